import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

/// The services below HTTP, on a real PostgreSQL: what the API and the CLI both stand on.
@Suite("Services: the idempotency runner and the rules every front door shares")
struct ServicesTests {
    struct World {
        let platform: AccountRecord
        let reseller: AccountRecord
        let root: Principal
        let colleague: Principal
    }

    func world(_ pool: DatabasePool) async throws -> World {
        try await pool.withTransaction { connection in
            let (platform, user, _) = try Operations.bootstrap(connection, operatorName: "Operator", email: nil)
            let root = Principal(
                userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
            let reseller = try Operations.createAccount(connection, root, OperationContext(actorUserID: user.id, requestID: "test"), parentID: platform.id, kind: .reseller, name: "Acme")
            let other = try UserStore.createUser(connection, account: platform, name: "Second operator", email: nil, role: .operator)
            let colleague = Principal(
                userID: other.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
            return World(platform: platform, reseller: reseller, root: root, colleague: colleague)
        }
    }

    func adjust(
        _ pool: DatabasePool, _ world: World, as principal: Principal, key: String, amount: Int64, runs: Counter
    ) async throws -> IdempotentMutation.Outcome {
        try await IdempotentMutation.run(
            pool: pool, principal: principal, origin: .library, key: key, requestHash: "adjust \(amount)", requestID: "test", status: 200,
            render: { (entry: EntryRecord) in .init(body: "entry \(entry.id)", replayBody: "entry \(entry.id) (stored)") }
        ) { connection, operation in
            runs.increment()
            return try Operations.applyAdjustment(
                connection, principal, operation, accountID: world.reseller.id, unit: .sms, delta: amount, reason: "test")
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    @Test("a replay answers the stored body without running the work; another request with the key is a conflict")
    func replayAndConflict() async throws {
        try await withTestDatabase { pool in
            let world = try await world(pool)
            let runs = Counter()
            let first = try await adjust(pool, world, as: world.root, key: "k-1", amount: 5, runs: runs)
            #expect(!first.replayed && first.body.hasPrefix("entry ") && !first.body.hasSuffix("(stored)"))
            let replay = try await adjust(pool, world, as: world.root, key: "k-1", amount: 5, runs: runs)
            #expect(replay.replayed && replay.body == first.body + " (stored)" && replay.status == 200)
            #expect(runs.count == 1)
            await #expect(throws: DomainError.self) {
                _ = try await adjust(pool, world, as: world.root, key: "k-1", amount: 6, runs: runs)
            }
            #expect(runs.count == 1)  // refused at the claim, before any work
            // The same key from another user is that user's own: applied, not a replay.
            let colleague = try await adjust(pool, world, as: world.colleague, key: "k-1", amount: 5, runs: runs)
            #expect(!colleague.replayed)
            let balance = try await pool.withTransaction {
                try LedgerStore.balances($0, account: world.reseller).first { $0.unit == .sms }
            }
            #expect(balance?.posted == 10)
            let violations = try await pool.withTransaction { try VerifyStore.verify($0) }
            #expect(violations.isEmpty, "\(violations)")
        }
    }

    @Test("a failing mutation leaves its key unused")
    func failureReleasesKey() async throws {
        try await withTestDatabase { pool in
            let world = try await world(pool)
            let runs = Counter()
            await #expect(throws: DomainError.self) {
                _ = try await adjust(pool, world, as: world.root, key: "k-2", amount: 0, runs: runs)
            }
            let retried = try await adjust(pool, world, as: world.root, key: "k-2", amount: 3, runs: runs)
            #expect(!retried.replayed)
        }
    }

    @Test("scheduling: past or absent is now; later needs the feature and lies within the limit (beyond it is a 409)")
    func scheduling() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try Scheduling.sendTime(nil, now: now, schedulingEnabled: false) == nil)
        #expect(try Scheduling.sendTime(now.addingTimeInterval(-60), now: now, schedulingEnabled: false) == nil)
        let later = now.addingTimeInterval(3_600)
        #expect(try Scheduling.sendTime(later, now: now, schedulingEnabled: true) == later)
        #expect(throws: DomainError(.featureDisabled, "scheduled sends need the scheduling feature", details: ["feature": .string("scheduling")])) {
            try Scheduling.sendTime(later, now: now, schedulingEnabled: false)
        }
        do {
            _ = try Scheduling.sendTime(now.addingTimeInterval(Limits.maxScheduleAheadSeconds + 1), now: now, schedulingEnabled: true)
            Issue.record("a time beyond the limit was accepted")
        } catch {
            #expect(error.code == .conflict && error.details["field"] == .string("send_at"))
        }
    }

    @Test("credit use is sent (post) plus received (charge), and nothing else")
    func creditUse() {
        #expect(Set(CreditUse.kinds) == [.post, .charge])
        #expect(!CreditUse.kinds.contains(.expire) && !CreditUse.kinds.contains(.adjust))
    }

    @Test("posting reservations set-wise: each still pending posted whole, once; balances and entries as one by one; verify clean")
    func postAll() async throws {
        try await withTestDatabase { pool in
            let world = try await world(pool)
            let context = OperationContext(actorUserID: world.root.userID, requestID: "test")
            let (reservations, alreadyPosted) = try await pool.withTransaction { connection in
                _ = try Operations.applyAdjustment(
                    connection, world.root, context, accountID: world.reseller.id, unit: .sms, delta: 100, reason: "fund")
                let reseller = try AccountStore.find(connection, id: world.reseller.id)!
                let reservations = try [3, 5, 7].map { amount in
                    try LedgerStore.reserve(connection, context, account: reseller, unit: .sms, amount: Int64(amount), reference: "r\(amount)")
                }
                let posted = try LedgerStore.post(connection, context, reservation: reservations[0], amount: nil)
                return (reservations, posted)
            }
            #expect(alreadyPosted.status == .posted)
            let (count, again, balance, entries, violations) = try await pool.withTransaction { connection in
                let batch = OperationContext(actorUserID: nil, requestID: "batch")
                let count = try LedgerStore.postAll(connection, batch, reservationIDs: reservations.map(\.id))
                let again = try LedgerStore.postAll(connection, batch, reservationIDs: reservations.map(\.id))
                let reseller = try AccountStore.find(connection, id: world.reseller.id)!
                let balance = try LedgerStore.balances(connection, account: reseller).first { $0.unit == .sms }!
                let entries = try connection.execute(
                    "SELECT count(*) AS n FROM ledger_entries WHERE kind = 'post' AND operation_id = $1", [batch.operationID]
                ).single().decode(Int64.self, "n")
                return (count, again, balance, entries, try VerifyStore.verify(connection))
            }
            #expect(count == 2 && again == 0 && entries == 2)
            #expect(balance.posted == 100 - 15 && balance.reserved == 0 && balance.available == 85)
            #expect(violations.isEmpty, "\(violations)")
        }
    }
}
