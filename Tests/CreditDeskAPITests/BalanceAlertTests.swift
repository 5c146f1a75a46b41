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

/// Low-balance alerts and automatic top-ups: once per crossing, racing consumers included,
/// mailed through a real SMTP sink and posted to webhooks; top-ups as ordinary transfers.
@Suite("Low-balance alerts and automatic top-ups")
struct BalanceAlertTests {
    struct World: Sendable {
        let api: API
        let fixture: Fixture
        let pool: DatabasePool
        let settings: MessagingSettings
        let sink: SMTPSink
    }

    /// The reseller with `resellerCredits` SMS, the client with `clientCredits`, an admin with
    /// an email on each, and a mailer into a sink.
    func withWorld(resellerCredits: Int = 100_000, clientCredits: Int = 100, _ body: @escaping @Sendable (World) async throws -> Void)
        async throws
    {
        let sink = try SMTPSink()
        defer { sink.stop() }
        var settings = try WebhookTests.settings()
        settings.mailer = SMTPMailer(url: sink.url, from: "creditdesk@test.example")
        try await withAPI(messaging: settings) { [settings] api, fixture, pool in
            try await pool.withTransaction { connection in
                _ = try UserStore.createUser(connection, account: fixture.client, name: "Office", email: "office@client.example", role: .admin)
                _ = try UserStore.createUser(connection, account: fixture.reseller, name: "Desk", email: "desk@reseller.example", role: .admin)
            }
            try await WebhookTests.fundReseller(api, fixture, resellerCredits + clientCredits)
            try await WebhookTests.fund(api, fixture, clientCredits)
            try await body(World(api: api, fixture: fixture, pool: pool, settings: settings, sink: sink))
        }
    }

    static func reserve(_ world: World, _ amount: Int) async throws -> Bool {
        let reply = try await world.api.call(
            .post, "/v1/accounts/\(world.fixture.client.id.lower)/reservations", key: world.fixture.keys[.clientUser],
            body: ["unit": "sms", "amount": amount])
        return reply.status == .created
    }

    /// Runs the dispatcher until no job is left (mails sent, top-ups made).
    static func runJobs(_ world: World) async throws {
        let dispatcher = MessageDispatcher(pool: world.pool, settings: world.settings, logger: Logger(label: "test"))
        let senders = SenderThreads(count: 1, timeoutMilliseconds: 1_000)
        defer { senders.shutdown() }
        for _ in 0..<100 where try await dispatcher.runOnce(senders) > 0 {}
    }

    static func notices(_ pool: DatabasePool) async throws -> [String] {
        try await pool.withConnection { connection in
            try connection.execute("SELECT kind FROM balance_notices ORDER BY created_at, id").rows.map { try $0.decode(String.self, "kind") }
        }
    }

    @Test("an alert fires once per crossing, re-arms above the line, mails both sides' admins and posts to webhooks")
    func oncePerCrossing() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try await withWorld { world in
            let (api, fixture) = (world.api, world.fixture)
            let path = "/v1/accounts/\(fixture.client.id.lower)/balance-alerts/sms"
            let body: [String: Any] = ["below": 50, "notify_parent": true]
            #expect(try await api.call(.put, path, key: fixture.keys[.clientUser], body: body).status == .forbidden)
            #expect(try await api.call(.put, path, key: fixture.keys[.otherResellerAdmin], body: body).status == .notFound)
            #expect(try await api.call(.put, path, key: fixture.keys[.clientAdmin], body: ["below": 0]).errorField == "below")
            #expect(try await api.call(.put, path, key: fixture.keys[.clientAdmin], body: body).status == .ok)
            _ = try await WebhookTests.endpoint(api, fixture, receiver.url, ["balance.low", "balance.recovered"])
            for _ in 0..<3 { #expect(try await Self.reserve(world, 30)) }  // 70, 40 (below), 10
            #expect(try await Self.notices(world.pool) == ["low"])
            try await WebhookTests.fund(api, fixture, 100)  // 110: back above
            #expect(try await Self.reserve(world, 70))  // 40: below again
            #expect(try await Self.notices(world.pool) == ["low", "recovered", "low"])
            let listed = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/balance-alerts", key: fixture.keys[.clientUser])
                .decode(Components.Schemas.BalanceAlertList.self)
            #expect(listed.items.count == 1 && listed.items[0].armed == false && listed.items[0].alertedAt != nil)

            try await Self.runJobs(world)
            let mails = world.sink.mails
            #expect(mails.count == 4, "\(mails.map(\.recipients))")
            #expect(Set(mails.flatMap(\.recipients)) == ["office@client.example", "desk@reseller.example"])
            #expect(mails.allSatisfy { $0.data.contains("is low on SMS credits") && $0.data.contains("below 50 credits") })
            try await WebhookTests.drain(world.pool, world.settings) { receiver.requests.count >= 3 }
            let events = try receiver.requests.map { try WebhookTests.envelope($0)["type"] as? String }
            #expect(events == ["balance.low", "balance.recovered", "balance.low"])
            let first = try #require(try WebhookTests.envelope(receiver.requests[0])["data"] as? [String: Any])
            #expect(first["available"] as? Int == 40 && first["threshold"] as? String == "below 50 credits")
        }
    }

    @Test("32 consumers racing across the line alert exactly once")
    func racingConsumers() async throws {
        try await withWorld { world in
            let alert = BalanceAlertRule(unit: .sms, measure: .credits, below: 50, notifyParent: false)
            try await world.api.call(
                .put, "/v1/accounts/\(world.fixture.client.id.lower)/balance-alerts/sms", key: world.fixture.keys[.clientAdmin],
                body: ["below": alert.below])
            let reserved = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<32 { group.addTask { try await Self.reserve(world, 2) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(reserved == 32)
            #expect(try await Self.notices(world.pool) == ["low"])
            try await verifyClean(world.pool)
        }
    }

    @Test("an alert in days left follows the last 7 days' consumption, once, and recovers")
    func daysLeft() async throws {
        try await withWorld { world in
            let (api, fixture) = (world.api, world.fixture)
            try await api.call(
                .put, "/v1/accounts/\(fixture.client.id.lower)/balance-alerts/sms", key: fixture.keys[.clientAdmin],
                body: ["below": 7, "measure": "days"])
            let check = { try await world.pool.withTransaction { try BalanceRuleOperations.checkDaysAlerts($0) } }
            #expect(try await check() == 0)  // nothing consumed yet: the credits last for ever
            let charged = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/charges", key: fixture.keys[.platformOperator],
                body: ["unit": "sms", "amount": 70])
            #expect(charged.status == .created, "\(charged.text)")
            #expect(try await check() == 1)  // 30 left at 10 a day: 3 days
            #expect(try await check() == 0)
            try await WebhookTests.fund(api, fixture, 100)  // 130: 13 days
            _ = try await check()
            #expect(try await Self.notices(world.pool) == ["low", "recovered"])
            let detail = try await world.pool.withConnection {
                try $0.execute("SELECT detail FROM balance_notices WHERE kind = 'low'").single().decode(String.self, "detail")
            }
            #expect(detail == "3.0 days left at 10.0 credits a day")
        }
    }
}
