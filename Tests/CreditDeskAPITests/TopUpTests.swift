import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Testing

/// Automatic top-ups from the parent's pool: once per crossing under concurrency, ordinary
/// transfers, refused visibly when the pool or a cap does not allow them.
@Suite("Automatic top-ups")
struct TopUpTests {
    typealias World = BalanceAlertTests.World

    static func runs(_ pool: DatabasePool) async throws -> [String: Int] {
        try await pool.withConnection { connection in
            try connection.execute("SELECT status, count(*) AS n FROM auto_top_up_runs GROUP BY status").rows.reduce(into: [:]) {
                $0[try $1.decode(String.self, "status")] = Int(try $1.decode(Int64.self, "n"))
            }
        }
    }

    static func setRule(_ world: World, _ body: [String: Any], as actor: Fixture.Actor = .resellerAdmin) async throws -> Reply {
        try await world.api.call(
            .put, "/v1/accounts/\(world.fixture.client.id.lower)/auto-top-ups/sms", key: world.fixture.keys[actor], body: body)
    }

    @Test("under 32 concurrent consumers, the client is topped up exactly once per crossing; the books balance")
    func concurrentConsumers() async throws {
        try await BalanceAlertTests().withWorld { world in
            #expect(try await Self.setRule(world, ["below": 50, "amount": 100], as: .clientAdmin).status == .forbidden)
            let set = try await Self.setRule(world, ["below": 50, "amount": 100])
            #expect(set.status == .ok, "\(set.text)")
            let consumers = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<32 {
                        group.addTask {
                            var reserved = 0
                            for _ in 0..<10 where try await BalanceAlertTests.reserve(world, 5) { reserved += 5 }
                            return reserved
                        }
                    }
                    return try await group.reduce(0, +)
                }
            }
            // The dispatcher works the top-up jobs while the consumers run, and after them.
            let jobs = Task {
                while !Task.isCancelled {
                    try await BalanceAlertTests.runJobs(world)
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            let consumed = try await consumers.value
            try await BalanceAlertTests.runJobs(world)
            jobs.cancel()
            _ = try? await jobs.value
            try await BalanceAlertTests.runJobs(world)
            let runs = try await Self.runs(world.pool)
            let applied = runs["applied"] ?? 0
            #expect(runs.keys.sorted() == ["applied"] && applied >= 2, "\(runs)")
            let balance = try await world.api.balance(world.fixture.client.id, .sms, key: world.fixture.keys[.clientUser]!)
            // What came in is the initial 100 plus each top-up once; what went out, the reservations.
            #expect(balance.available == Int64(100 + 100 * applied - consumed))
            let transfers = try await world.pool.withConnection {
                try $0.execute(
                    "SELECT count(*) AS n FROM ledger_entries WHERE kind = 'transfer' AND reason LIKE 'automatic top-up%' AND credit_account_id = $1",
                    [world.fixture.client.id]
                ).single().decode(Int64.self, "n")
            }
            #expect(transfers == Int64(applied))
            try await verifyClean(world.pool)
        }
    }

    @Test("a top-up the parent's pool or a cap cannot cover fails visibly: a failed run and a mail to both sides")
    func failsVisibly() async throws {
        try await BalanceAlertTests().withWorld(resellerCredits: 150) { world in
            #expect(try await Self.setRule(world, ["below": 50, "amount": 100, "max_credits_per_day": 100]).status == .ok)
            #expect(try await BalanceAlertTests.reserve(world, 60))  // 40: below, topped up to 140
            try await BalanceAlertTests.runJobs(world)
            #expect(try await BalanceAlertTests.reserve(world, 100))  // 40 again: the day's cap is used up
            try await BalanceAlertTests.runJobs(world)
            let listed = try await world.api.call(
                .get, "/v1/accounts/\(world.fixture.client.id.lower)/auto-top-ups", key: world.fixture.keys[.clientAdmin]
            ).decode(Components.Schemas.AutoTopUpList.self)
            #expect(listed.runs.map(\.status.rawValue) == ["failed", "applied"])
            #expect(listed.runs.first?.detail?.contains("daily cap") == true)
            #expect(listed.items.first?.armed == false)
            // Without the cap, the pool is what is short: 50 left, 100 asked.
            #expect(try await Self.setRule(world, ["below": 50, "amount": 100]).status == .ok)
            #expect(try await BalanceAlertTests.reserve(world, 1))
            try await BalanceAlertTests.runJobs(world)
            let runs = try await world.api.call(
                .get, "/v1/accounts/\(world.fixture.client.id.lower)/auto-top-ups", key: world.fixture.keys[.clientAdmin]
            ).decode(Components.Schemas.AutoTopUpList.self).runs
            #expect(runs.first?.status == .failed && runs.first?.detail?.contains("too few SMS credits") == true)
            let mails = world.sink.mails.filter { $0.data.contains("top-up") }
            #expect(mails.count == 4 && Set(mails.flatMap(\.recipients)) == ["office@client.example", "desk@reseller.example"])
            try await verifyClean(world.pool)
        }
    }
}
