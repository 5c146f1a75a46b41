import CreditDeskContract
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
            let dependencies = AppDependencies(
                pool: pool, migrator: migrator, messaging: settings, metricsToken: MetricsTests.token)
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
        if !features.isEmpty {
            let on = { (feature: String) in features.contains(feature) ? true : nil }
            let changes = Components.Schemas.FeatureChanges(
                mms: on("mms"), international: on("international"), campaigns: on("campaigns"),
                scheduling: on("scheduling"), inbound: on("inbound"))
            for (account, actor) in [(fixture.reseller, Fixture.Actor.platformOperator), (fixture.client, .resellerAdmin)] {
                _ = try await api.typed(fixture.keys[actor]).updateFeatures(
                    path: .init(id: account.id.objectID), headers: .init(idempotencyKey: freshKey()), body: .json(changes)
                ).ok
            }
        }
        try await transfer(api, fixture, .sms, 1_000, toClient: 100)
    }

    /// Moves `amount` from the platform to the reseller, and `toClient` on to the client.
    func transfer(
        _ api: API, _ fixture: Fixture, _ unit: Components.Schemas.CreditUnit, _ amount: Int64, toClient: Int64
    ) async throws {
        let moves: [(AccountRecord, AccountRecord, Int64, Fixture.Actor)] = [
            (fixture.platform, fixture.reseller, amount, .platformOperator),
            (fixture.reseller, fixture.client, toClient, .resellerAdmin),
        ]
        for (from, to, amount, actor) in moves {
            _ = try await api.typed(fixture.keys[actor]).transferCredits(
                path: .init(id: from.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: unit, amount: amount, toAccountId: to.id.objectID))
            ).ok
        }
    }

    /// Sends a text as `key` from the client.
    func send(
        _ api: API, _ fixture: Fixture, key: String, to: String, _ text: String, at sendAt: Date? = nil
    ) async throws -> Endpoints.SendMessage.Output {
        try await api.typed(key).sendMessage(
            path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(value1: .init(to: to, text: text, sendAt: sendAt), value2: .init(value1: .init(text: text)))))
    }

    /// Links a connection to the client as its admin.
    func connect(
        _ api: API, _ fixture: Fixture, _ provider: Components.Schemas.GatewayProvider, name: String, baseURL: String,
        username: String, password: String
    ) async throws -> Components.Schemas.Gateway {
        try await api.typed(fixture.keys[.clientAdmin]).createGateway(
            path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(
                provider: provider, name: name, baseUrl: baseURL, username: username, password: password,
                sender: Self.sender, homePrefix: "64"))
        ).created.body.json
    }

    /// A page of the client's messages as its admin.
    func messages(
        _ api: API, _ fixture: Fixture, direction: Components.Schemas.MessageDirection? = nil, phone: String? = nil,
        key: String? = nil
    ) async throws -> [Components.Schemas.Message] {
        try await api.typed(key ?? fixture.keys[.clientAdmin]).listMessages(
            path: .init(id: fixture.client.id.objectID), query: .init(direction: direction, phone: phone, limit: 500)
        ).ok.body.json.items
    }

    /// Creates the office's Kannel connection, then starts a Kannel that calls back to it.
    func connectKannel(
        _ api: API, _ fixture: Fixture, password: String? = nil
    ) async throws -> (KannelGateway, Components.Schemas.Gateway) {
        // Kannel needs the inbound URL (with the connection's token) in its configuration, and
        // the connection needs Kannel's address: pick the ports first, start Kannel after.
        let ports = KannelGateway.Ports.random()
        let gateway = try await connect(
            api, fixture, .kannel, name: "Office Kannel", baseURL: ports.sendURL, username: KannelGateway.username,
            password: password ?? KannelGateway.password)
        let inbound = "\(gateway.inboundUrl)?token=\(try #require(gateway.callbackToken))"
        return (try await KannelGateway.start(ports: ports, inboundURL: inbound), gateway)
    }

    func waitForStatus(
        _ api: API, _ fixture: Fixture, messageID: ObjectID, _ wanted: Set<Components.Schemas.MessageStatus>,
        seconds: Double = 30
    ) async throws -> Components.Schemas.Message? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let row = try await messages(api, fixture).first(where: { $0.id == messageID }), wanted.contains(row.status) {
                return row
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("message \(messageID) did not reach \(wanted) in \(seconds) s")
        return nil
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
            let row = try #require(try listed.decode(Components.Schemas.GatewayPage.self).items.first)
            #expect(row.callbackToken == nil && row.id == gateway.id)
            #expect(!listed.text.contains(KannelGateway.password) && !listed.text.contains("password"))

            let user = fixture.keys[.clientUser]!
            let before = try await scrapeMetrics(api)
            let text = String(repeating: "Your appointment is tomorrow. ", count: 7)  // 210 GSM-7 chars: 2 segments
            let sent = try await send(api, fixture, key: user, to: "+64 21 123 4567", text).accepted.body.json
            #expect(sent.segments == 2 && sent.credits == 2 && sent.to == "+64211234567")
            let delivered = try await waitForStatus(api, fixture, messageID: sent.id, [.delivered])
            #expect(delivered?.deliveredAt != nil)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (98, 0, 98))
            try await waitForSMSC(kannel, count: 2)
            #expect(kannel.deliveredToSMSC().allSatisfy { $0.hasPrefix("\(Self.sender) +64211234567 udh ") })
            // The metrics saw it (at least: other tests count into the same registry).
            let grew = { (after: PrometheusText, name: String, labels: [String: String]) in
                after.sum(name, labels) >= before.sum(name, labels) + 1
            }
            let counted = try await eventually { () -> Bool in
                let after = try await scrapeMetrics(api)
                return ["queued", "sent", "delivered"].allSatisfy { grew(after, "creditdesk_messages_total", ["status": $0]) }
                    && grew(after, "creditdesk_gateway_submission_duration_seconds_count", ["provider": "kannel", "outcome": "accepted"])
                    && grew(after, "creditdesk_credit_operations_total", ["kind": "post", "unit": "sms"])
            }
            #expect(counted, "messages, the submission and the charge are counted")

            // A national number is refused with a clear message and costs nothing.
            let national = try await send(api, fixture, key: user, to: "021 123 4567", "hi")
            #expect(
                try national.badRequest.body.json.error.message
                    == "to: must be in international format: + and the country code, e.g. +64211234567")
            // Abroad needs the international feature.
            #expect(contractError(try await send(api, fixture, key: user, to: "+447700900123", "hi"))?.code == "feature_disabled")
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
            let refused = try await send(api, fixture, key: user, to: "+64211234567", "hi").accepted.body.json
            let failed = try await waitForStatus(api, fixture, messageID: refused.id, [.failed])
            #expect(failed?.failureReason?.contains("403") == true)
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
                try MessagingOperations.recordAccepted(connection, context, messageIDs: [message.id])
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
            let refunded = try await waitForStatus(api, fixture, messageID: message.id.objectID, [.failed])
            #expect(refunded?.failureReason == "not delivered")
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
            let refused = try await send(api, fixture, key: user, to: handset, "hello")
            #expect(try refused.unprocessableContent.body.json.error.code == "recipient_opted_out")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let first = try #require(try await messages(api, fixture, direction: .inbound, key: user).first)
            #expect(first.from == handset && first.status == .received && first.credits == 0)

            kannel.injectInbound(from: handset, to: Self.sender, text: "start")
            try await waitForOptOut(api, fixture, handset, present: false)
            let allowed = try await send(api, fixture, key: user, to: handset, "welcome back").accepted.body.json
            _ = try await waitForStatus(api, fixture, messageID: allowed.id, [.delivered])
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
            let phones = try await api.typed(fixture.keys[.clientAdmin]).listOptOuts(
                path: .init(id: fixture.client.id.objectID)
            ).ok.body.json.items.map(\.phone)
            if phones.contains(phone) == present { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("opt-out of \(phone) never became \(present)")
    }

    @Test("an inbound MMS is charged one MMS credit; inbound SMS is free")
    func inboundMMS() async throws {
        try await withMessaging(features: ["mms", "inbound"]) { api, fixture, pool, _ in
            try await transfer(api, fixture, .mms, 10, toClient: 5)
            let gateway = try await connectTwilio(api, fixture)
            let token = try #require(gateway.callbackToken)
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
            let items = try await messages(api, fixture, direction: .inbound, key: user)
            #expect(items.count == 2)
            #expect(items.contains { $0.unit == .mms && $0.credits == 1 })
            let forged = try await api.call(.post, "/v1/callbacks/twilio/\(gateway.id)/inbound?token=x", key: nil, rawBody: form)
            #expect(forged.status == .unauthorized)
            #expect(try await api.balance(fixture.client.id, .mms, key: user) == (4, 0, 4))
            // Billing sees it as an MMS received, not sent.
            let usage = try await api.typed(user).getUsage(
                path: .init(id: fixture.client.id.objectID),
                query: .init(from: UsageTests.start, to: UsageTests.today, group: .month)
            ).ok.body.json
            let mmsRow = usage.rows.last { $0.unit == .mms }
            #expect(mmsRow?.received == 1 && mmsRow?.sent == 0)
            try await verifyClean(pool)
        }
    }

    @Test("a scheduled send fires at its time; cancelling one before it goes voids its reservation")
    func scheduleAndCancel() async throws {
        try await withMessaging(features: ["scheduling"]) { api, fixture, pool, _ in
            let (kannel, _) = try await connectKannel(api, fixture)
            try await withKannel(kannel) {
            let user = fixture.keys[.clientUser]!
            let first = try await send(
                api, fixture, key: user, to: "+64211112222", "reminder", at: Date().addingTimeInterval(2)
            ).accepted.body.json
            let second = try await send(
                api, fixture, key: user, to: "+64213334444", "next week", at: Date().addingTimeInterval(3600)
            ).accepted.body.json
            #expect(first.status == .scheduled && second.status == .scheduled)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 2, 98))
            #expect(kannel.deliveredToSMSC().isEmpty)

            func cancel(_ id: ObjectID) async throws -> Endpoints.CancelMessage.Output {
                try await api.typed(user).cancelMessage(path: .init(id: id), headers: .init(idempotencyKey: freshKey()))
            }
            #expect(try await cancel(second.id).ok.body.json.status == .cancelled)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 1, 99))
            _ = try await waitForStatus(api, fixture, messageID: first.id, [.delivered])
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            #expect(try await cancel(first.id).conflict.body.json.error.code == "conflict")
            try await waitForSMSC(kannel, count: 1)
            try await Task.sleep(for: .milliseconds(500))
            #expect(kannel.deliveredToSMSC().count == 1)
            try await verifyClean(pool)
            }
        }
    }
}
