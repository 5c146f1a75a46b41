import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

/// Caps through the API: who sets them, how a refusal reads, a campaign refused whole. Window
/// boundaries, time zones and races are pinned at fixed instants in `CapTests`.
@Suite("Spend and velocity caps through the API")
struct CapsAPITests {
    func withFundedClient(_ body: @escaping @Sendable (API, Fixture, DatabasePool) async throws -> Void) async throws {
        try await withAPI(messaging: try HardeningTests.messaging()) { api, fixture, pool in
            let (op, admin) = (fixture.keys[.platformOperator]!, fixture.keys[.resellerAdmin]!)
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: op,
                body: ["unit": "sms", "amount": 1_000, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                body: ["unit": "sms", "amount": 500, "to_account_id": fixture.client.id.lower])
            try await api.call(.patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: op, body: ["campaigns": true])
            try await api.call(.patch, "/v1/accounts/\(fixture.client.id.lower)/features", key: admin, body: ["campaigns": true])
            let gateway = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: admin, body: HardeningTests.gatewayBody(userID: nil))
            #expect(gateway.status == .created, "\(gateway.text)")
            try await body(api, fixture, pool)
        }
    }

    @Test("an account above sets a client's caps; the client reads them with their use; refusals name the cap")
    func setAndRefuse() async throws {
        try await withFundedClient { api, fixture, _ in
            let caps = "/v1/accounts/\(fixture.client.id.lower)/caps"
            let none = try await api.call(.get, caps, key: fixture.keys[.clientUser])
            #expect(try none.decode(Components.Schemas.SpendingCaps.self).usage.isEmpty)
            let body: [String: Any] = ["time_zone": "Pacific/Auckland", "sms_per_day": 0, "allowed_countries": ["64"]]
            #expect(try await api.call(.put, caps, key: fixture.keys[.clientAdmin], body: body).status == .forbidden)
            #expect(try await api.call(.put, caps, key: fixture.keys[.otherResellerAdmin], body: body).status == .notFound)
            #expect(try await api.call(.put, "/v1/accounts/\(fixture.reseller.id.lower)/caps", key: fixture.keys[.platformOperator], body: body).status == .conflict)
            #expect(try await api.call(.put, caps, key: fixture.keys[.resellerAdmin], body: ["time_zone": "Mars/Olympus"]).errorField == "time_zone")
            let set = try await api.call(.put, caps, key: fixture.keys[.resellerAdmin], body: body)
            #expect(set.status == .ok, "\(set.text)")
            let read = try await api.call(.get, caps, key: fixture.keys[.clientUser]).decode(Components.Schemas.SpendingCaps.self)
            #expect(read.smsPerDay == 0 && read.allowedCountries == ["64"] && read.usage.map(\.cap) == ["sms_per_day"])

            let messages = "/v1/accounts/\(fixture.client.id.lower)/messages"
            let refused = try await api.call(.post, messages, key: fixture.keys[.clientUser], body: ["to": "+64215550100", "text": "hi"])
            #expect(refused.status == .forbidden && refused.errorCode == "cap_exceeded")
            #expect(refused.error?.detail("cap") == "sms_per_day" && refused.error?.detail("resets_at") != nil)
            let abroad = try await api.call(.post, messages, key: fixture.keys[.clientUser], body: ["to": "+61412345678", "text": "hi"])
            #expect(abroad.errorCode == "cap_exceeded" && abroad.error?.detail("cap") == "allowed_countries")
            try await api.call(.put, caps, key: fixture.keys[.resellerAdmin], body: ["messages_per_minute": 0])
            let fast = try await api.call(.post, messages, key: fixture.keys[.clientUser], body: ["to": "+64215550100", "text": "hi"])
            #expect(fast.status == .tooManyRequests && fast.errorCode == "rate_limited")
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.clientUser]!).reserved == 0)
            try await api.call(.put, caps, key: fixture.keys[.resellerAdmin], body: [:])
            let sent = try await api.call(.post, messages, key: fixture.keys[.clientUser], body: ["to": "+64215550100", "text": "hi"])
            #expect(sent.status == .accepted, "\(sent.text)")
            let audit = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/audit?action=caps.changed", key: fixture.keys[.resellerAdmin])
            #expect(try audit.decode(Components.Schemas.AuditPage.self).items.count == 3)
        }
    }

    @Test("a campaign over the day's cap is refused whole at confirmation; nothing is reserved")
    func campaignRefusedWhole() async throws {
        try await withFundedClient { api, fixture, pool in
            let contacts: [Components.Schemas.NewContact] = (0..<3).map {
                .init(firstName: "P\($0)", mobile: "+6421555010\($0)", smsConsent: true)
            }
            let list = try await MessagingTests().makeList(api, fixture, name: "Three", contacts)
            let campaign = try await api.typed(fixture.keys[.clientUser]).createCampaign(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(name: "Big", listId: list, template: "Hi {{first_name}}"))
            ).created.body.json
            try await api.call(.put, "/v1/accounts/\(fixture.client.id.lower)/caps", key: fixture.keys[.resellerAdmin], body: ["sms_per_day": 2])
            let confirm = try await api.call(
                .post, "/v1/campaigns/\(campaign.id)/confirm", key: fixture.keys[.clientUser], body: ["accept_terms": true])
            #expect(confirm.status == .forbidden && confirm.error?.detail("cap") == "sms_per_day", "\(confirm.text)")
            #expect(confirm.error?.detail("requested") == "3")
            let status = try await api.typed(fixture.keys[.clientUser]).getCampaign(path: .init(id: campaign.id)).ok.body.json.status
            #expect(status == .draft)
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.clientUser]!).reserved == 0)
            try await verifyClean(pool)
        }
    }

    @Test("the console's client page shows each cap with what it used")
    func consoleShowsCaps() async throws {
        try await withFundedClient { api, fixture, pool in
            try await api.call(
                .put, "/v1/accounts/\(fixture.client.id.lower)/caps", key: fixture.keys[.resellerAdmin],
                body: ["sms_per_day": 10, "allowed_countries": ["64", "61"]])
            try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: fixture.keys[.clientUser],
                body: ["to": "+64215550100", "text": "hi"])
            let email = try await ConsoleTests().resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            _ = try await browser.signIn(email, ConsoleTests.password)
            let page = try await browser.get("/console/clients/\(fixture.client.id.lower)").html
            #expect(page.contains("SMS credits today: 1 / 10") && page.contains("Destinations allowed: +61, +64"))
        }
    }
}
