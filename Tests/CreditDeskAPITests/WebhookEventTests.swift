import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Logging
import Testing

/// Webhooks when receivers misbehave (down, hanging) and for the messaging events: what the
/// receiver gets, once and in order.
@Suite("Webhook events and failing receivers")
struct WebhookEventTests {
    typealias Hooks = WebhookTests

    static func fundReseller(_ api: API, _ fixture: Fixture) async throws { try await Hooks.fundReseller(api, fixture, 1_000) }

    static func deliveredCount(_ pool: DatabasePool) async throws -> Int64 {
        try await pool.withConnection {
            try $0.execute("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'").single().decode(Int64.self, "n")
        }
    }

    @Test("a receiver down for the whole test gets every event once it is back, each once and in order")
    func receiverBackAfterOutage() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        receiver.mode = .close
        let settings = try Hooks.settings()
        try await withAPI(messaging: settings) { api, fixture, pool in
            try await Self.fundReseller(api, fixture)
            _ = try await Hooks.endpoint(api, fixture, receiver.url, ["credits.changed"])
            for amount in 1...5 { try await Hooks.fund(api, fixture, amount) }
            try await Hooks.drain(pool, settings) { receiver.requests.count >= 3 }
            #expect(try await Self.deliveredCount(pool) == 0)
            receiver.mode = .answer(200)
            try await Hooks.drain(pool, settings) { try await Self.deliveredCount(pool) == 5 }
            let answered = receiver.requests.filter { $0.mode == .answer(200) }
            let amounts = try answered.map { try #require(try Hooks.envelope($0)["data"] as? [String: Any])["amount"] as? Int }
            #expect(amounts == [1, 2, 3, 4, 5])
            #expect(Set(answered.compactMap { $0.header("CreditDesk-Event-Id") }).count == 5)
        }
    }

    @Test("a hanging receiver is cut off at the timeout; failing for the disable period disables the endpoint and emails the admins")
    func hangingReceiverDisabled() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        receiver.mode = .hang
        let sink = try SMTPSink()
        defer { sink.stop() }
        let policy = WebhookRetryPolicy(firstDelaySeconds: 0.1, maxDelaySeconds: 0.1, windowSeconds: 3_600, disableAfterSeconds: 0.5)
        let settings = try Hooks.settings(
            policy, timeoutMilliseconds: 300, mailer: SMTPMailer(url: sink.url, from: "creditdesk@test.example"))
        try await withAPI(messaging: settings) { api, fixture, pool in
            try await pool.withTransaction { connection in
                _ = try UserStore.createUser(connection, account: fixture.client, name: "Office admin", email: "office@dental.example", role: .admin)
            }
            try await Self.fundReseller(api, fixture)
            let (id, _) = try await Hooks.endpoint(api, fixture, receiver.url, ["credits.changed"])
            try await Hooks.fund(api, fixture, 7)
            let path = "/v1/accounts/\(fixture.client.id.lower)/webhooks/\(id)"
            try await Hooks.drain(pool, settings) {
                try await api.call(.get, path, key: fixture.keys[.clientAdmin]).decode(Components.Schemas.Webhook.self).enabled == false
            }
            let webhook = try await api.call(.get, path, key: fixture.keys[.clientAdmin]).decode(Components.Schemas.Webhook.self)
            #expect(webhook.disabledReason?.contains("every delivery failed since") == true && webhook.failingSince != nil)
            let log = try await api.call(.get, "\(path)/deliveries", key: fixture.keys[.clientAdmin])
                .decode(Components.Schemas.WebhookDeliveryPage.self)
            #expect(log.items.first?.status == .pending && log.items.first?.lastStatusCode == nil)
            #expect(log.items.first?.lastAnswer?.contains("timeout") == true, "\(String(describing: log.items.first?.lastAnswer))")
            let mails = sink.mails
            #expect(mails.count == 1 && mails.first?.recipients == ["office@dental.example"])
            #expect(mails.first?.data.contains("webhook disabled") == true)

            receiver.mode = .answer(200)
            let enabled = try await api.call(.patch, path, key: fixture.keys[.clientAdmin], body: ["enabled": true])
                .decode(Components.Schemas.Webhook.self)
            #expect(enabled.enabled && enabled.failingSince == nil && enabled.disabledReason == nil)
            try await Hooks.drain(pool, settings) { try await Self.deliveredCount(pool) == 1 }
            let last = try #require(receiver.requests.last)
            let amount = (try Hooks.envelope(last)["data"] as? [String: Any])?["amount"] as? Int
            #expect(last.mode == .answer(200) && amount == 7)
        }
    }

    @Test("status changes, an inbound reply and a finished campaign reach the endpoint; the campaign once")
    func messagingEvents() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let settings = try Hooks.settings()
        try await withAPI(messaging: settings) { api, fixture, pool in
            let (op, admin) = (fixture.keys[.platformOperator]!, fixture.keys[.resellerAdmin]!)
            try await Self.fundReseller(api, fixture)
            try await Hooks.fund(api, fixture, 100)
            try await api.call(.patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: op, body: ["campaigns": true])
            try await api.call(.patch, "/v1/accounts/\(fixture.client.id.lower)/features", key: admin, body: ["campaigns": true])
            let gatewayID = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: admin, body: HardeningTests.gatewayBody(userID: nil)).id
            _ = try await Hooks.endpoint(api, fixture, receiver.url, ["message.status", "message.inbound", "campaign.finished"])
            let sent = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: fixture.keys[.clientUser],
                body: ["to": "+64215550100", "text": "Your appointment is at 10"])
            let messageID = try #require(UUID(uuidString: sent.id))
            let contacts: [Components.Schemas.NewContact] = (0..<2).map { .init(firstName: "P\($0)", mobile: "+6421555020\($0)", smsConsent: true) }
            let list = try await MessagingTests().makeList(api, fixture, name: "Two", contacts)
            let campaign = try await api.typed(fixture.keys[.clientUser]).createCampaign(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(name: "Recall", listId: list, template: "Hi {{first_name}}"))
            ).created.body.json
            let confirmed = try await api.call(
                .post, "/v1/campaigns/\(campaign.id)/confirm", key: fixture.keys[.clientUser], body: ["accept_terms": true])
            #expect(confirmed.status == .ok, "\(confirmed.text)")
            let notifier = WebhookNotifier(pool: pool, settings: settings, logger: Logger(label: "test"))
            #expect(try await notifier.checkCampaigns().isEmpty)

            try await pool.withOperation(actorUserID: nil, requestID: "test") { connection, context in
                let campaignMessages = try connection.execute(
                    "SELECT id FROM messages WHERE campaign_id = $1 ORDER BY id", [UUID(uuidString: campaign.id.description)!]
                ).rows.map { try $0.decode(UUID.self, "id") }
                try MessagingOperations.recordAccepted(connection, context, messageIDs: [messageID] + campaignMessages)
                let gateway = try #require(try GatewayStore.connection(connection, id: UUID(uuidString: gatewayID)!))
                try MessagingOperations.applyDeliveryReport(
                    connection, context, gateway: gateway, messageID: messageID, status: MessagingOperations.DeliveryStatus.delivered.rawValue)
                _ = try MessagingOperations.receive(connection, context, gateway: gateway, from: "+64215550100", text: "See you then", mediaURLs: [])
            }
            #expect(try await notifier.checkCampaigns().map(\.lower) == [campaign.id.description])
            #expect(try await notifier.checkCampaigns().isEmpty)
            try await Hooks.drain(pool, settings) { receiver.requests.count >= 6 }
            let envelopes = try receiver.requests.map(Hooks.envelope)
            func data(_ envelope: [String: Any]) -> [String: Any] { envelope["data"] as? [String: Any] ?? [:] }
            let single = envelopes.filter { data($0)["id"] as? String == messageID.lower }.map { data($0)["status"] as? String }
            #expect(single == ["sent", "delivered"])
            #expect(envelopes.filter { $0["type"] as? String == "message.status" }.count == 4)
            let inbound = try #require(envelopes.first { $0["type"] as? String == "message.inbound" })
            #expect(data(inbound)["text"] as? String == "See you then" && data(inbound)["from"] as? String == "+64215550100")
            let finished = envelopes.filter { $0["type"] as? String == "campaign.finished" }
            #expect(finished.count == 1 && (data(finished[0])["messages"] as? [String: Any])?["sent"] as? Int == 2)
            try await verifyClean(pool)
        }
    }
}
