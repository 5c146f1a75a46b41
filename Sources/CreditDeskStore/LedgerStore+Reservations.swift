import CreditDeskCore
import CreditDeskDB
import Foundation

/// Reservations: pending debits for messages (one, or a whole batch), posted or voided later.
extension LedgerStore {
    /// Holds `amount` for one message. The balance row is updated last: it is the row every
    /// send of the account waits for, and it stays locked until the commit, so the rows written
    /// first cost the other senders nothing. Not enough available throws, and the caller's
    /// transaction then rolls those rows back.
    package static func reserve(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, unit: CreditUnit,
        amount: Int64, reference: String?, id: UUID = UUID()
    ) throws -> ReservationRecord {
        precondition(amount > 0 && amount <= Limits.maxAmount, "a reservation of \(amount)")
        let reservation = try decodeReservation(
            try connection.execute(
                insertReservation, [account.tenantID, id, account.id, unit.rawValue, amount, reference]
            ).single())
        try insert(
            connection, context, tenantID: account.tenantID, kind: .reserve, unit: unit, amount: amount,
            debit: account.id, credit: SystemAccount.consumption, pending: true, reservationID: reservation.id,
            reason: reference)
        let changed = try connection.execute(addReserved, [account.tenantID, account.id, unit.rawValue, amount])
        guard let row = changed.first else {
            let balance = try balance(connection, account, unit)
            throw DomainError.insufficient(unit: unit, available: balance.available, requested: amount)
        }
        assertWithinLimit(try decodeBalance(row))
        return reservation
    }

    /// Reserves credits for many messages at once: one balance update and one pending entry for
    /// the total, and every reservation in one statement. All or nothing.
    package static func reserveBatch(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, unit: CreditUnit,
        items: [(amount: Int64, reference: String?)]
    ) throws -> ReservationBatch {
        precondition(!items.isEmpty, "an empty batch")
        var total: Int64 = 0
        for item in items {
            precondition(item.amount > 0 && item.amount <= Limits.maxAmount, "a batch item of \(item.amount)")
            let (sum, overflow) = total.addingReportingOverflow(item.amount)
            guard !overflow else { throw DomainError.invalid("items", "the total amount is too large") }
            total = sum
        }
        let changed = try connection.execute(addReserved, [account.tenantID, account.id, unit.rawValue, total])
        guard let row = changed.first else {
            let balance = try balance(connection, account, unit)
            throw DomainError.insufficient(unit: unit, available: balance.available, requested: total)
        }
        let held = try decodeBalance(row)
        assertWithinLimit(held)
        let batchID = UUID()
        let inserted = try connection.execute(
            insertReservationBatch,
            [account.tenantID, account.id, unit.rawValue, arrayLiteral(items.lazy.map { String($0.amount) }),
             quotedArrayLiteral(items.lazy.map { $0.reference.flatMap { $0.isEmpty ? nil : $0 } }), batchID])
        // Both sides of the write must agree: every item became a reservation.
        guard inserted.affectedRows == items.count else {
            throw DatabaseError(.other, message: "bulk reservation wrote \(inserted.affectedRows) of \(items.count) reservations")
        }
        // One pending entry for the whole batch: the ledger records the movement (the total held),
        // the reservations record its per-message split; posts and voids then write an entry per
        // reservation. Writing 100,000 entries here would double the cost of the request.
        try insert(
            connection, context, tenantID: account.tenantID, kind: .reserve, unit: unit, amount: total,
            debit: account.id, credit: SystemAccount.consumption, pending: true, reservationID: nil,
            reason: "bulk reservation of \(items.count) messages, batch \(batchID.uuidString.lowercased())")
        return ReservationBatch(
            batchID: batchID, accountID: account.id, unit: unit, count: items.count, totalAmount: total,
            balance: held)
    }

    package static func reservations(
        _ connection: PostgresConnection, accountID: UUID, status: ReservationStatus?, batchID: UUID?,
        afterID: UUID?, limit: Int
    ) throws -> [ReservationRecord] {
        try connection.execute(
            selectReservations, [accountID, status?.rawValue, batchID, afterID, Int64(limit)]
        ).rows.map(decodeReservation)
    }

    /// The entry that posted a reservation (what a refund for its message gives back).
    package static func lockPostEntry(_ connection: PostgresConnection, reservationID: UUID) throws -> EntryRecord? {
        try connection.execute(lockPostOfReservation, [reservationID]).first.map(decodeEntry)
    }

    package static func lockReservation(_ connection: PostgresConnection, id: UUID) throws -> ReservationRecord? {
        try connection.execute(lockReservation, [id]).first.map(decodeReservation)
    }

    /// Commits `amount` (default: all) of a pending reservation; the rest is released.
    package static func post(
        _ connection: PostgresConnection, _ context: OperationContext, reservation: ReservationRecord, amount: Int64?
    ) throws -> ReservationRecord {
        guard reservation.status == .pending else {
            throw DomainError(
                .conflict, "reservation is already \(reservation.status.rawValue)",
                details: ["status": .string(reservation.status.rawValue)])
        }
        let postedAmount = amount ?? reservation.amount
        guard (1...reservation.amount).contains(postedAmount) else {
            throw DomainError.beyondState("amount", "must be between 1 and the reserved \(reservation.amount)")
        }
        precondition(postedAmount <= reservation.amount, "posting \(postedAmount) of \(reservation.amount)")
        try settle(connection, reservation, reserved: reservation.amount, posted: postedAmount)
        try insert(
            connection, context, tenantID: reservation.tenantID, kind: .post, unit: reservation.unit,
            amount: postedAmount, debit: reservation.accountID, credit: SystemAccount.consumption, pending: false,
            reservationID: reservation.id, reason: reservation.reference)
        if postedAmount < reservation.amount {
            try insert(
                connection, context, tenantID: reservation.tenantID, kind: .void, unit: reservation.unit,
                amount: reservation.amount - postedAmount, debit: reservation.accountID,
                credit: SystemAccount.consumption, pending: true, reservationID: reservation.id,
                reason: "remainder released on partial post")
        }
        return try decodeReservation(
            try connection.execute(resolveReservation, [reservation.id, "posted", postedAmount]).single())
    }

    /// Releases a pending reservation whole.
    package static func void(_ connection: PostgresConnection, _ context: OperationContext, reservation: ReservationRecord)
        throws -> ReservationRecord
    {
        guard reservation.status == .pending else {
            throw DomainError(
                .conflict, "reservation is already \(reservation.status.rawValue)",
                details: ["status": .string(reservation.status.rawValue)])
        }
        try settle(connection, reservation, reserved: reservation.amount, posted: 0)
        try insert(
            connection, context, tenantID: reservation.tenantID, kind: .void, unit: reservation.unit,
            amount: reservation.amount, debit: reservation.accountID, credit: SystemAccount.consumption, pending: true,
            reservationID: reservation.id, reason: reservation.reference)
        return try decodeReservation(try connection.execute(resolveReservation, [reservation.id, "voided", 0]).single())
    }

    /// Releases `reserved` of the account's reserved credits and takes `posted` of them.
    static func settle(_ connection: PostgresConnection, _ reservation: ReservationRecord, reserved: Int64, posted: Int64)
        throws
    {
        let changed = try connection.execute(
            settleReserved, [reservation.tenantID, reservation.accountID, reservation.unit.rawValue, reserved, posted])
        // A pending reservation is always covered by `reserved`; anything else is a broken invariant.
        guard !changed.rows.isEmpty else {
            throw DatabaseError(.other, message: "reserved balance does not cover reservation \(reservation.id)")
        }
    }
}
