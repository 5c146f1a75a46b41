import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import CreditDeskAPI
@testable import CreditDeskServices

/// Messaging end to end: the live daemon (HTTP server and dispatcher) against a real Kannel
/// (bearerbox, smsbox, fake SMSC) on loopback, started by each test.
/// Serialized: each test runs its own three Kannel boxes, and several at once on two cores
/// slow each other's start-up for no gain.
@Suite("Messaging through Kannel", .serialized)
struct MessagingTests {
    static let sender = "+6421000000"

    /// The live app with two dispatchers, the fixture funded with 100 SMS credits on the client,
    /// and features switched on for the client and its reseller.
    func withMessaging(
        features: [String] = [], mailer: SMTPMailer? = nil,
        _ body: @escaping @Sendable (API, Fixture, DatabasePool, MessagingSettings) async throws -> Void
    ) async throws {
        try await withTestDatabase(poolSize: 8) { pool in
            let fixture = try await Fixture.make(pool)
            let migrator = try await TestCluster.shared.ready().migrator
            let settings = MessagingSettings(
                secretBox: try SecretBox(encodedKey: SecretBox.generateKey()), mailer: mailer,
                publicBaseURL: "http://127.0.0.1:1")
            let dependencies = AppDependencies(pool: pool, migrator: migrator, messaging: settings)
            // Two dispatchers on one queue, as two daemons would run: every test (the 1,000-message
            // campaign above all) then also shows that each job is worked exactly once.
            let dispatchers = (1...2).map { index in
                MessageDispatcher(
                    pool: pool, settings: settings, logger: Logger(label: "test.dispatcher.\(index)"),
                    pollInterval: .milliseconds(100))
            }
            let app = Application(router: try buildRouter(dependencies: dependencies), services: dispatchers)
            try await app.test(.live) { client in
                settings.setPublicBaseURL("http://127.0.0.1:\(client.port ?? 0)")
                let api = API(client: client)
                try await fund(api, fixture, features: features)
                try await body(api, fixture, pool, settings)
            }
        }
    }

    func fund(_ api: API, _ fixture: Fixture, features: [String]) async throws {
        let flags = Dictionary(uniqueKeysWithValues: features.map { ($0, true) })
        if !flags.isEmpty {
            try await api.call(
                .patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: fixture.keys[.platformOperator], body: flags)
            try await api.call(
                .patch, "/v1/accounts/\(fixture.client.id.lower)/features", key: fixture.keys[.resellerAdmin], body: flags)
        }
        try await api.call(
            .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
            body: ["unit": "sms", "amount": 1_000, "to_account_id": fixture.reseller.id.lower])
        try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.resellerAdmin],
            body: ["unit": "sms", "amount": 100, "to_account_id": fixture.client.id.lower])
    }

    /// Creates the office's Kannel connection, then starts a Kannel that calls back to it.
    func connectKannel(_ api: API, _ fixture: Fixture, password: String? = nil) async throws -> (KannelGateway, Reply) {
        // Kannel needs the inbound URL (with the connection's token) in its configuration, and
        // the connection needs Kannel's address: pick the ports first, start Kannel after.
        let ports = KannelGateway.Ports.random()
        let gateway = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: fixture.keys[.clientAdmin],
            body: [
                "provider": "kannel", "name": "Office Kannel", "base_url": ports.sendURL,
                "username": KannelGateway.username, "password": password ?? KannelGateway.password,
                "sender": Self.sender, "home_prefix": "64",
            ])
        #expect(gateway.status == .created)
        let inbound = "\(gateway["inbound_url"] as? String ?? "")?token=\(gateway["callback_token"] as? String ?? "")"
        return (try await KannelGateway.start(ports: ports, inboundURL: inbound), gateway)
    }

    func waitForStatus(
        _ api: API, _ fixture: Fixture, messageID: String, _ wanted: Set<String>, seconds: Double = 30
    ) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let page = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/messages?limit=500", key: fixture.keys[.clientAdmin])
            if let row = (page["items"] as? [[String: Any]])?.first(where: { $0["id"] as? String == messageID }),
                let status = row["status"] as? String, wanted.contains(status)
            {
                return row
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("message \(messageID) did not reach \(wanted) in \(seconds) s")
        return [:]
    }

    /// Runs `body`, then stops Kannel whatever happened.
    func withKannel(_ kannel: KannelGateway, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await kannel.stop()
            throw error
        }
        await kannel.stop()
    }

    func waitForSMSC(_ kannel: KannelGateway, count: Int) async throws {
        for _ in 0..<50 where kannel.deliveredToSMSC().count < count {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(kannel.deliveredToSMSC().count == count)
    }

    @Test("send: credits reserved, Kannel accepts, the delivery report marks it delivered, credits posted")
    func sendAndDeliver() async throws {
        try await withMessaging { api, fixture, pool, _ in
            let (kannel, gateway) = try await connectKannel(api, fixture)
            try await withKannel(kannel) {
            // Secrets are write-only: neither the password nor its ciphertext comes back.
            let listed = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: fixture.keys[.clientUser])
            let row = (listed["items"] as? [[String: Any]])?.first ?? [:]
            #expect(row["password"] == nil && row["callback_token"] == nil && row["id"] as? String == gateway.id)

            let user = fixture.keys[.clientUser]!
            let text = String(repeating: "Your appointment is tomorrow. ", count: 7)  // 210 GSM-7 chars: 2 segments
            let sent = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user,
                body: ["to": "+64 21 123 4567", "text": text])
            #expect(sent.status == .accepted)
            #expect(sent["segments"] as? NSNumber == 2 && sent["credits"] as? NSNumber == 2)
            #expect(sent["to"] as? String == "+64211234567")
            let delivered = try await waitForStatus(api, fixture, messageID: sent.id, ["delivered"])
            #expect(delivered["delivered_at"] is String)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (98, 0, 98))
            try await waitForSMSC(kannel, count: 2)
            #expect(kannel.deliveredToSMSC().allSatisfy { $0.hasPrefix("\(Self.sender) +64211234567 udh ") })

            // A national number is refused with a clear message and costs nothing.
            let national = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": "021 123 4567", "text": "hi"])
            #expect(national.status == .badRequest)
            #expect((national.json?["error"] as? [String: Any])?["message"] as? String ?? "" == "to: must be in international format: + and the country code, e.g. +64211234567")
            // Abroad needs the international feature.
            let abroad = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": "+447700900123", "text": "hi"])
            #expect(abroad.errorCode == "feature_disabled")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (98, 0, 98))
            try await verifyClean(pool)
            }
        }
    }

    @Test("a gateway refusal voids the reservation; a failed delivery report refunds; forged reports are refused")
    func failures() async throws {
        try await withMessaging { api, fixture, pool, settings in
            let (kannel, _) = try await connectKannel(api, fixture, password: "wrong password")
            try await withKannel(kannel) {
            let user = fixture.keys[.clientUser]!
            let refused = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": "+64211234567", "text": "hi"])
            let failed = try await waitForStatus(api, fixture, messageID: refused.id, ["failed"])
            #expect((failed["failure_reason"] as? String ?? "").contains("403"))
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            #expect(kannel.deliveredToSMSC().isEmpty)

            // A message the network later reports as failed (status 2) is refunded in full.
            let message = try await pool.withTransaction { connection -> MessageRecord in
                let gateway = try #require(try GatewayStore.connections(connection, accountID: fixture.client.id).first)
                let principal = Principal(
                    userID: fixture.users[.clientUser]!, accountID: fixture.client.id, tenantID: fixture.client.tenantID,
                    role: .user, accountKind: .client)
                let context = OperationContext(actorUserID: principal.userID, requestID: "test")
                let message = try MessagingOperations.send(
                    connection, principal, context, accountID: fixture.client.id,
                    input: .init(to: "+64219876543", text: "three", mediaURLs: [], sendAt: nil))
                try MessagingOperations.recordSubmission(connection, context, messageID: message.id, outcome: .accepted)
                #expect(gateway.id == message.connectionID)
                return message
            }
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            let gateway = try await pool.withConnection { try GatewayStore.connection($0, id: message.connectionID!)! }
            let url = settings.deliveryReportURL(gateway, messageID: message.id, token: nil)
                .replacingOccurrences(of: settings.publicBaseURL, with: "")
            let forged = try await api.call(
                .get, url.replacingOccurrences(of: "signature=", with: "signature=0").replacingOccurrences(of: "%d", with: "2"),
                key: nil)
            #expect(forged.status == .unauthorized)
            let report = try await api.call(.get, url.replacingOccurrences(of: "%d", with: "2"), key: nil)
            #expect(report.status == .ok)
            let refunded = try await waitForStatus(api, fixture, messageID: message.id.uuidString.lowercased(), ["failed"])
            #expect(refunded["failure_reason"] as? String == "not delivered")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            // A repeated report changes nothing.
            #expect(try await api.call(.get, url.replacingOccurrences(of: "%d", with: "2"), key: nil).status == .ok)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            try await verifyClean(pool)
            }
        }
    }

    @Test("STOP through Kannel opts the number out; the next send is refused uncharged; START opts back in")
    func optOutByKeyword() async throws {
        try await withMessaging { api, fixture, pool, _ in
            let (kannel, gateway) = try await connectKannel(api, fixture)
            try await withKannel(kannel) {

            let user = fixture.keys[.clientUser]!
            let handset = "+64219998888"
            kannel.injectInbound(from: handset, to: Self.sender, text: "  Stop ")
            try await waitForOptOut(api, fixture, handset, present: true)
            let refused = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": handset, "text": "hello"])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.errorCode == "recipient_opted_out")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let received = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/messages?direction=inbound", key: user)
            let first = (received["items"] as? [[String: Any]])?.first ?? [:]
            #expect(first["from"] as? String == handset && first["status"] as? String == "received")
            #expect(first["credits"] as? NSNumber == 0)

            kannel.injectInbound(from: handset, to: Self.sender, text: "start")
            try await waitForOptOut(api, fixture, handset, present: false)
            let allowed = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": handset, "text": "welcome back"])
            #expect(allowed.status == .accepted)
            _ = try await waitForStatus(api, fixture, messageID: allowed.id, ["delivered"])
            // A wrong token is refused and records nothing.
            let forged = try await api.call(
                .get, "/v1/callbacks/kannel/\(gateway.id)/mo?token=nope&from=%2B64215550000&text=STOP", key: nil)
            #expect(forged.status == .unauthorized)
            try await verifyClean(pool)
            }
        }
    }

    func waitForOptOut(_ api: API, _ fixture: Fixture, _ phone: String, present: Bool) async throws {
        for _ in 0..<100 {
            let list = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/opt-outs", key: fixture.keys[.clientAdmin])
            let phones = (list["items"] as? [[String: Any]] ?? []).compactMap { $0["phone"] as? String }
            if phones.contains(phone) == present { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("opt-out of \(phone) never became \(present)")
    }

    @Test("an inbound MMS is charged one MMS credit; inbound SMS is free")
    func inboundMMS() async throws {
        try await withMessaging(features: ["mms", "inbound"]) { api, fixture, pool, _ in
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
                body: ["unit": "mms", "amount": 10, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.resellerAdmin],
                body: ["unit": "mms", "amount": 5, "to_account_id": fixture.client.id.lower])
            let gateway = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: fixture.keys[.clientAdmin],
                body: [
                    "provider": "twilio", "name": "Twilio", "base_url": "http://127.0.0.1:9", "username": "AC123",
                    "password": "token", "sender": Self.sender, "home_prefix": "64",
                ])
            let token = gateway["callback_token"] as? String ?? ""
            let path = "/v1/callbacks/twilio/\(gateway.id)/inbound?token=\(token)"
            let form = "From=%2B64217770000&To=%2B6421000000&Body=Look&NumMedia=1&MediaUrl0=https%3A%2F%2Fexample.com%2Fa.jpg"
            let reply = try await api.call(.post, path, key: nil, rawBody: form)
            #expect(reply.status == .ok)
            let user = fixture.keys[.clientUser]!
            #expect(try await api.balance(fixture.client.id, .mms, key: user) == (4, 0, 4))
            let sms = try await api.call(.post, path, key: nil, rawBody: "From=%2B64217770000&To=%2B6421000000&Body=Thanks")
            #expect(sms.status == .ok)
            #expect(try await api.balance(fixture.client.id, .mms, key: user) == (4, 0, 4))
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let listed = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/messages?direction=inbound", key: user)
            let items = listed["items"] as? [[String: Any]] ?? []
            #expect(items.count == 2)
            #expect(items.contains { $0["unit"] as? String == "mms" && $0["credits"] as? NSNumber == 1 })
            let forged = try await api.call(.post, "/v1/callbacks/twilio/\(gateway.id)/inbound?token=x", key: nil, rawBody: form)
            #expect(forged.status == .unauthorized)
            #expect(try await api.balance(fixture.client.id, .mms, key: user) == (4, 0, 4))
            // Billing sees it as an MMS received, not sent.
            let usage = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/usage?from=\(UsageTests.start)&to=\(UsageTests.today)&group=month",
                key: user)
            let mmsRow = (usage["rows"] as? [[String: Any]])?.last { $0["unit"] as? String == "mms" }
            #expect(mmsRow?["received"] as? NSNumber == 1 && mmsRow?["sent"] as? NSNumber == 0)
            try await verifyClean(pool)
        }
    }

    @Test("a scheduled send fires at its time; cancelling one before it goes voids its reservation")
    func scheduleAndCancel() async throws {
        try await withMessaging(features: ["scheduling"]) { api, fixture, pool, _ in
            let (kannel, _) = try await connectKannel(api, fixture)
            try await withKannel(kannel) {
            let user = fixture.keys[.clientUser]!
            let soon = ISO8601.format(Date().addingTimeInterval(2))
            let later = ISO8601.format(Date().addingTimeInterval(3600))
            let first = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user,
                body: ["to": "+64211112222", "text": "reminder", "send_at": soon])
            let second = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user,
                body: ["to": "+64213334444", "text": "next week", "send_at": later])
            #expect(first["status"] as? String == "scheduled" && second["status"] as? String == "scheduled")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 2, 98))
            #expect(kannel.deliveredToSMSC().isEmpty)

            let cancelled = try await api.call(.post, "/v1/messages/\(second.id)/cancel", key: user, body: [:])
            #expect(cancelled["status"] as? String == "cancelled")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 1, 99))
            _ = try await waitForStatus(api, fixture, messageID: first.id, ["delivered"])
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            let tooLate = try await api.call(.post, "/v1/messages/\(first.id)/cancel", key: user, body: [:])
            #expect(tooLate.status == .conflict)
            try await waitForSMSC(kannel, count: 1)
            try await Task.sleep(for: .milliseconds(500))
            #expect(kannel.deliveredToSMSC().count == 1)
            try await verifyClean(pool)
            }
        }
    }
}
