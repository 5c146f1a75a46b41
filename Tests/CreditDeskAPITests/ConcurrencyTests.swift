import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Testing

/// Expected balances, updated only by operations the ledger acknowledged.
final class Model: @unchecked Sendable {
    private let lock = NSLock()
    private var posted = [UUID: Int64]()
    private var reserved = [UUID: Int64]()
    private var pending = [UUID]()
    private(set) var applied = 0
    private(set) var refused = 0

    func apply(posted changes: [UUID: Int64] = [:], reserved reservedChanges: [UUID: Int64] = [:]) {
        lock.withLock {
            for (id, delta) in changes { posted[id, default: 0] += delta }
            for (id, delta) in reservedChanges { reserved[id, default: 0] += delta }
            applied += 1
        }
    }

    func refuse() { lock.withLock { refused += 1 } }
    func addPending(_ id: UUID) { lock.withLock { pending.append(id) } }
    func takePending() -> UUID? { lock.withLock { pending.isEmpty ? nil : pending.removeFirst() } }
    func expected(_ id: UUID) -> (Int64, Int64) { lock.withLock { (posted[id, default: 0], reserved[id, default: 0]) } }
}

@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("32 tasks of mixed operations on a few hot accounts leave the ledger exact")
    func mixedLoad() async throws {
        try await withTestDatabase(poolSize: 8) { pool in
            let fixture = try await Fixture.make(pool)
            let root = Principal(
                userID: fixture.users[.platformOperator]!, accountID: fixture.platform.id,
                tenantID: fixture.platform.tenantID, role: .operator, accountKind: .platform)
            let reseller = fixture.reseller
            // A few hot clients under one reseller.
            let clients = try await pool.withTransaction { connection in
                try (0..<3).map { index in
                    try Operations.createAccount(
                        connection, root, OperationContext(actorUserID: root.userID, requestID: "test"), parentID: reseller.id, kind: .client, name: "Hot \(index)")
                }
            }
            let model = Model()
            let seed = try await pool.withTransaction { connection in
                try Operations.applyTransfer(
                    connection, root, OperationContext(actorUserID: root.userID, requestID: "seed"), fromID: fixture.platform.id,
                    toID: reseller.id, unit: .sms, amount: 20_000, reason: nil)
            }
            model.apply(posted: [reseller.id: seed.amount])

            let operationsPerTask = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<32 {
                    group.addTask {
                        var generator = SystemRandomNumberGenerator()
                        for step in 0..<operationsPerTask {
                            let client = clients[(task + step) % clients.count]
                            let amount = Int64.random(in: 1...60, using: &generator)
                            let context = OperationContext(actorUserID: root.userID, requestID: "load-\(task)-\(step)")
                            let choice = Int.random(in: 0..<6, using: &generator)
                            let postsNotVoids = Bool.random(using: &generator)
                            do {
                                try await Self.operate(
                                    choice, postsNotVoids: postsNotVoids, pool: pool, root, context, client: client.id,
                                    reseller: reseller.id, amount: amount, model: model)
                            } catch let error as DomainError where error.code == .insufficientCredits {
                                model.refuse()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }

            #expect(model.applied + model.refused == 32 * operationsPerTask + 1)
            #expect(model.applied > 1_000)
            for account in clients.map(\.id) + [reseller.id] {
                let balance = try await pool.withConnection { connection in
                    try LedgerStore.balances(connection, account: try AccountStore.find(connection, id: account)!)
                }.first { $0.unit == .sms }!
                let (posted, reserved) = model.expected(account)
                #expect(balance.posted == posted, "posted of \(account)")
                #expect(balance.reserved == reserved, "reserved of \(account)")
                #expect(balance.available >= 0)
            }
            try await verifyClean(pool)
        }
    }

    /// One operation of the load (0, 1: adjust up or down; 2: transfer from the reseller;
    /// 3, 4: reserve; 5: post or void a pending reservation), applied to the model when it
    /// commits.
    static func operate(
        _ choice: Int, postsNotVoids: Bool, pool: DatabasePool, _ root: Principal, _ context: OperationContext,
        client: UUID, reseller: UUID, amount: Int64, model: Model
    ) async throws {
        switch choice {
        case 0:
            _ = try await pool.withRetryingTransaction { connection in
                try Operations.applyAdjustment(
                    connection, root, context, accountID: client, unit: .sms, delta: amount,
                    reason: "load add")
            }
            model.apply(posted: [client: amount])
        case 1:
            _ = try await pool.withRetryingTransaction { connection in
                try Operations.applyAdjustment(
                    connection, root, context, accountID: client, unit: .sms, delta: -amount,
                    reason: "load remove")
            }
            model.apply(posted: [client: -amount])
        case 2:
            _ = try await pool.withRetryingTransaction { connection in
                try Operations.applyTransfer(
                    connection, root, context, fromID: reseller, toID: client, unit: .sms,
                    amount: amount, reason: nil)
            }
            model.apply(posted: [reseller: -amount, client: amount])
        case 3, 4:
            let reservation = try await pool.withRetryingTransaction { connection in
                try Operations.reserve(
                    connection, root, context, accountID: client, unit: .sms, amount: amount,
                    reference: nil)
            }
            model.apply(reserved: [client: amount])
            model.addPending(reservation.id)
        default:
            guard let id = model.takePending() else {
                model.refuse()
                return
            }
            if postsNotVoids {
                let result = try await pool.withRetryingTransaction { connection in
                    try Operations.post(connection, root, context, reservationID: id, amount: nil)
                }
                model.apply(
                    posted: [result.accountID: -result.postedAmount],
                    reserved: [result.accountID: -result.amount])
            } else {
                let result = try await pool.withRetryingTransaction { connection in
                    try Operations.void(connection, root, context, reservationID: id)
                }
                model.apply(reserved: [result.accountID: -result.amount])
            }
        }
    }
}
