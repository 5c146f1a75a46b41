import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

/// The metrics count what committed: a retried attempt's writes and a rolled-back operation
/// are not counted (the tally is read off the attempt that committed).
@Suite("Metrics tally: only what committed")
struct TallyTests {
    func reseller(_ pool: DatabasePool) async throws -> (Principal, AccountRecord) {
        try await pool.withTransaction { connection in
            let (platform, user, _) = try Operations.bootstrap(connection, operatorName: "Operator", email: nil)
            let root = Principal(
                userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
            return (root, try Operations.createAccount(connection, root, OperationContext(actorUserID: user.id, requestID: "t"), parentID: platform.id, kind: .reseller, name: "Acme"))
        }
    }

    final class Attempts: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }

    @Test("an attempt that failed with a serialization failure and was retried is counted once")
    func retriedAttemptCountedOnce() async throws {
        try await withTestDatabase { pool in
            let (root, reseller) = try await reseller(pool)
            let attempts = Attempts()
            let (_, tally) = try await pool.withTalliedOperation(actorUserID: root.userID, requestID: "t") { connection, context in
                _ = try Operations.applyAdjustment(connection, root, context, accountID: reseller.id, unit: .sms, delta: 7, reason: "t")
                if attempts.next() == 1 { throw DatabaseError(.serializationFailure, message: "injected") }
            }
            #expect(tally.entryTotals == [Tally.Entries(kind: .adjust, unit: .sms): 1])
            let balance = try await pool.withConnection { try LedgerStore.balance($0, reseller, .sms) }
            #expect(balance.posted == 7)
        }
    }

    @Test("an operation refused by a rule answers no tally, and a set-wise post counts each entry")
    func refusedAndSetWise() async throws {
        try await withTestDatabase { pool in
            let (root, reseller) = try await reseller(pool)
            await #expect(throws: DomainError.self) {
                _ = try await pool.withTalliedOperation(actorUserID: root.userID, requestID: "t") { connection, context in
                    try Operations.applyAdjustment(connection, root, context, accountID: reseller.id, unit: .sms, delta: -1, reason: "t")
                }
            }
            let (_, tally) = try await pool.withTalliedOperation(actorUserID: root.userID, requestID: "t") { connection, context in
                _ = try Operations.applyAdjustment(connection, root, context, accountID: reseller.id, unit: .sms, delta: 10, reason: "t")
                let ids = try (1...3).map { n in
                    try LedgerStore.reserve(connection, context, account: reseller, unit: .sms, amount: 2, reference: "m\(n)").id
                }
                try LedgerStore.postAll(connection, context, reservationIDs: ids)
            }
            #expect(tally.entryTotals[Tally.Entries(kind: .adjust, unit: .sms)] == 1)
            #expect(tally.entryTotals[Tally.Entries(kind: .reserve, unit: .sms)] == 3)
            #expect(tally.entryTotals[Tally.Entries(kind: .post, unit: .sms)] == 3)
        }
    }
}
