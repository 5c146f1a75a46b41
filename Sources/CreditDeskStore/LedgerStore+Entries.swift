import CreditDeskCore
import CreditDeskDB
import Foundation

/// Writing ledger entries: one at a time, or with the one balance a one-sided move changes,
/// in one statement.
extension LedgerStore {
    /// A move with one customer side (the other is a system account): its balance UPDATE and
    /// the entry's INSERT are one statement, one round trip; the entry is written only if the
    /// UPDATE found the credits (a debit), so a refused move changes nothing, even for a caller
    /// that carries on with its transaction (an inbound MMS kept uncharged, say).
    static func moveOneSide(
        _ connection: PostgresConnection, _ context: OperationContext, _ customer: AccountRecord, debited: Bool,
        _ entry: EntryValues
    ) throws -> EntryRecord {
        precondition(entry.reservationID == nil && !entry.pending, "a one-sided move is posted at once")
        let delta = debited ? -entry.amount : entry.amount
        let parameters: [any PostgresBindable] = [
            customer.tenantID, customer.id, entry.unit.rawValue, delta, entry.tenantID, context.operationID,
            entry.kind.rawValue, entry.amount, entry.debit, entry.credit, entry.refundedEntryID, entry.saleID,
            context.actorUserID, context.requestID, entry.reason,
        ]
        guard let row = try connection.execute(moveAndRecord, parameters).first else {
            guard debited else { throw DatabaseError(.other, message: "no \(entry.unit.rawValue) balance row to credit") }
            let balance = try balance(connection, customer, entry.unit)
            throw DomainError.insufficient(unit: entry.unit, available: balance.available, requested: entry.amount)
        }
        let available = try row.decode(Int64.self, "balance_available")
        precondition(available >= 0, "a \(entry.unit.rawValue) balance left at \(available) available")
        context.tally.entries(entry.kind, entry.unit)
        return try decodeEntry(row)
    }

    /// $1–$4 as `changePosted` (a credit is never refused); then the entry's values as
    /// `insertEntry` takes them, less unit, pending and reservation (the unit is $3).
    static let moveAndRecord = """
        WITH changed AS (
            UPDATE balances SET posted = posted + $4, updated_at = now()
            WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND ($4 > 0 OR posted + $4 - reserved + credit_limit >= 0)
            RETURNING posted - reserved + credit_limit AS balance_available
        ), entry AS (
            INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id, credit_account_id,
                pending, refunded_entry_id, sale_id, actor_user_id, request_id, reason)
            SELECT $5::uuid, $6::uuid, $7::text, $3::text, $8::bigint, $9::uuid, $10::uuid, false, $11::bigint, $12::uuid,
                   $13::uuid, $14::text, $15::text
            FROM changed
            RETURNING \(entryColumns)
        )
        SELECT entry.*, changed.balance_available FROM entry, changed
        """

    /// One ledger entry's values, as `insertEntry` takes them (with the operation's context).
    struct EntryValues {
        let tenantID: UUID
        let kind: EntryKind
        let unit: CreditUnit
        let amount: Int64
        let debit: UUID
        let credit: UUID
        let pending: Bool
        let reservationID: UUID?
        var refundedEntryID: Int64? = nil
        var saleID: UUID? = nil
        let reason: String?

        func parameters(_ context: OperationContext) -> [any PostgresBindable] {
            [tenantID, context.operationID, kind.rawValue, unit.rawValue, amount, debit, credit, pending,
             reservationID, refundedEntryID, saleID, context.actorUserID, context.requestID, reason]
        }
    }

    @discardableResult
    static func insert(
        _ connection: PostgresConnection, _ context: OperationContext, tenantID: UUID, kind: EntryKind, unit: CreditUnit,
        amount: Int64, debit: UUID, credit: UUID, pending: Bool, reservationID: UUID?, refundedEntryID: Int64? = nil,
        saleID: UUID? = nil, reason: String?
    ) throws -> EntryRecord {
        try insert(
            connection, context,
            EntryValues(
                tenantID: tenantID, kind: kind, unit: unit, amount: amount, debit: debit, credit: credit, pending: pending,
                reservationID: reservationID, refundedEntryID: refundedEntryID, saleID: saleID, reason: reason))
    }

    static func insert(_ connection: PostgresConnection, _ context: OperationContext, _ entry: EntryValues) throws
        -> EntryRecord
    {
        context.tally.entries(entry.kind, entry.unit)
        return try decodeEntry(try connection.execute(insertEntry, entry.parameters(context)).single())
    }
}
