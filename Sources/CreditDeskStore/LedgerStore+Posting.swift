import CreditDeskCore
import CreditDeskDB
import Foundation

/// Posting many whole reservations at once (a batch of messages the gateway took): one
/// balance update per account and unit, the entries written together. The same rows as
/// posting each on its own (`post`), in a handful of statements instead of five per message.
extension LedgerStore {
    static let lockPendingByID = """
        SELECT \(reservationColumns) FROM reservations
        WHERE id = ANY ($1::text::uuid[]) AND status = 'pending' ORDER BY id FOR UPDATE
        """
    static let insertPostEntries = """
        INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id, credit_account_id,
            pending, reservation_id, actor_user_id, request_id, reason)
        SELECT r.tenant_id, $1, 'post', r.unit, r.amount, r.account_id, $2, false, r.id, $3, $4, r.reference
        FROM reservations r WHERE r.id = ANY ($5::text::uuid[])
        """
    static let resolvePosted = """
        UPDATE reservations SET status = 'posted', posted_amount = amount, resolved_at = now()
        WHERE id = ANY ($1::text::uuid[])
        """

    /// Posts each of the reservations still pending, whole; answers how many were.
    @discardableResult
    package static func postAll(_ connection: PostgresConnection, _ context: OperationContext, reservationIDs: [UUID])
        throws -> Int
    {
        guard !reservationIDs.isEmpty else { return 0 }
        let pending = try connection.execute(lockPendingByID, [arrayLiteral(reservationIDs)])
            .rows.map(decodeReservation)
        guard !pending.isEmpty else { return 0 }
        // One settlement per balance, in a fixed order (as `move` locks balances).
        let groups = Dictionary(grouping: pending) { "\($0.accountID.lower) \($0.unit.rawValue)" }
        for key in groups.keys.sorted() {
            let reservations = groups[key]!
            let total = reservations.reduce(Int64(0)) { $0 + $1.amount }
            try settle(connection, reservations[0], reserved: total, posted: total)
        }
        let ids = arrayLiteral(pending.map(\.id))
        try connection.execute(
            insertPostEntries, [context.operationID, SystemAccount.consumption, context.actorUserID, context.requestID, ids])
        try connection.execute(resolvePosted, [ids])
        for reservation in pending { context.tally.entries(.post, reservation.unit) }
        return pending.count
    }
}
