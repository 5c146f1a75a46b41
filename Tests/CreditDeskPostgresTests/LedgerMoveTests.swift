import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

/// A move with one customer side is one statement (the balance UPDATE and the entry's INSERT):
/// refused, it writes nothing, even when the caller catches the refusal and commits the rest
/// of its transaction, as an inbound MMS kept uncharged does.
@Suite("Ledger: one-sided moves")
struct LedgerMoveTests {
    @Test("a refused charge inside a transaction that carries on and commits leaves no entry; verify stays clean")
    func refusedChargeWritesNothing() async throws {
        try await withTestDatabase { pool in
            let (reseller, entriesBefore) = try await pool.withTransaction { connection in
                let (platform, user, _) = try Operations.bootstrap(connection, operatorName: "Operator", email: nil)
                let root = Principal(
                    userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
                let reseller = try Operations.createAccount(connection, root, OperationContext(actorUserID: user.id, requestID: "t"), parentID: platform.id, kind: .reseller, name: "Acme")
                let context = OperationContext(actorUserID: user.id, requestID: "t")
                _ = try Operations.applyAdjustment(connection, root, context, accountID: reseller.id, unit: .sms, delta: 5, reason: "t")
                let count = try connection.execute("SELECT count(*) AS n FROM ledger_entries").single().decode(Int64.self, "n")
                return (reseller, count)
            }
            try await pool.withTransaction { connection in
                let context = OperationContext(actorUserID: nil, requestID: "t")
                let refused = #expect(throws: DomainError.self) {
                    try LedgerStore.charge(connection, context, account: reseller, unit: .sms, amount: 6, reason: "too much")
                }
                #expect(refused?.code == .insufficientCredits)
                // The transaction goes on and commits: a charge that fits.
                _ = try LedgerStore.charge(connection, context, account: reseller, unit: .sms, amount: 2, reason: "fits")
            }
            let (balance, entries, violations) = try await pool.withTransaction(isolation: .repeatableRead) { connection in
                (try LedgerStore.balance(connection, reseller, .sms),
                 try connection.execute("SELECT count(*) AS n FROM ledger_entries").single().decode(Int64.self, "n"),
                 try VerifyStore.verify(connection))
            }
            #expect(balance.posted == 3)
            #expect(entries == entriesBefore + 1)
            #expect(violations.isEmpty, "\(violations)")
        }
    }
}
