import CreditDeskCore
import CreditDeskDB
import Foundation

package struct Balance: Sendable, Equatable {
    package let unit: CreditUnit
    package let posted: Int64
    package let reserved: Int64
    package let creditLimit: Int64
    package var available: Int64 { posted - reserved + creditLimit }
}

/// Who did an operation and under which request; recorded on every entry and audit row.
/// `origin` says through which door (and key or session, from which address) it came.
/// `tally` counts what the operation wrote, for the metrics once it committed.
package struct OperationContext: Sendable {
    package let operationID: UUID
    package let actorUserID: UUID?
    package let requestID: String?
    package let origin: RequestOrigin
    package let tally = Tally()

    package init(
        operationID: UUID = UUID(), actorUserID: UUID?, requestID: String?, origin: RequestOrigin = .system
    ) {
        self.operationID = operationID
        self.actorUserID = actorUserID
        self.requestID = requestID
        self.origin = origin
    }
}

package struct EntryRecord: Sendable, Equatable {
    package let id: Int64
    package let operationID: UUID
    package let kind: EntryKind
    package let unit: CreditUnit
    package let amount: Int64
    package let debitAccountID: UUID
    package let creditAccountID: UUID
    package let pending: Bool
    package let reservationID: UUID?
    package let refundedEntryID: Int64?
    package let saleID: UUID?
    package let actorUserID: UUID?
    package let requestID: String?
    package let reason: String?
    package let createdAt: Date
}

package struct ReservationRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let unit: CreditUnit
    package let amount: Int64
    package let status: ReservationStatus
    package let postedAmount: Int64
    package let reference: String?
    /// Set on the reservations one bulk request made.
    package let batchID: UUID?
    package let createdAt: Date
}

/// What a bulk reservation made: `count` reservations sharing `batchID`.
package struct ReservationBatch: Sendable, Equatable {
    package let batchID: UUID
    package let accountID: UUID
    package let unit: CreditUnit
    package let count: Int
    package let totalAmount: Int64
    package let balance: Balance
}

/// The credit ledger (double entry; see docs/ARCHITECTURE.md). Every function runs inside the caller's transaction and
/// writes the balance change and the entries that explain it together. Balance rows are
/// locked in account-id order before any is changed, so two transfers in opposite directions
/// cannot deadlock; every debit is a conditional UPDATE that cannot take `available` below
/// the credit limit, and a CHECK constraint backs that up.
package enum LedgerStore {
    // MARK: statements

    static let selectBalances = """
        SELECT unit, posted, reserved, credit_limit FROM balances WHERE tenant_id = $1 AND account_id = $2 ORDER BY unit
        """
    static let lockBalance = """
        SELECT unit, posted, reserved, credit_limit FROM balances
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 FOR UPDATE
        """
    static let changePosted = """
        UPDATE balances SET posted = posted + $4, updated_at = now()
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND posted + $4 - reserved + credit_limit >= 0
        RETURNING unit, posted, reserved, credit_limit
        """
    static let addReserved = """
        UPDATE balances SET reserved = reserved + $4, updated_at = now()
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND posted - reserved + credit_limit >= $4
        RETURNING unit, posted, reserved, credit_limit
        """
    static let settleReserved = """
        UPDATE balances SET reserved = reserved - $4, posted = posted - $5, updated_at = now()
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND reserved >= $4
        RETURNING unit, posted, reserved, credit_limit
        """
    static let setCreditLimit = """
        UPDATE balances SET credit_limit = $4, updated_at = now()
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3
        RETURNING unit, posted, reserved, credit_limit
        """
    static let insertEntry = """
        INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id, credit_account_id,
            pending, reservation_id, refunded_entry_id, sale_id, actor_user_id, request_id, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING \(entryColumns)
        """
    static let entryColumns = """
        id, operation_id, kind, unit, amount, debit_account_id, credit_account_id, pending, reservation_id,
        refunded_entry_id, sale_id, actor_user_id, request_id, reason, created_at
        """
    static let reservationColumns = """
        id, tenant_id, account_id, unit, amount, status, posted_amount, reference, batch_id, created_at
        """
    static let insertReservation = """
        INSERT INTO reservations (tenant_id, id, account_id, unit, amount, reference) VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING \(reservationColumns)
        """
    /// One reservation per element of the parallel arrays $4 (amounts) and $5 (references),
    /// in one statement: a campaign's 100,000 messages cost one round trip.
    static let insertReservationBatch = """
        INSERT INTO reservations (tenant_id, id, account_id, unit, amount, reference, batch_id)
        SELECT $1, gen_random_uuid(), $2, $3, amount, reference, $6
        FROM unnest($4::text::bigint[], $5::text::text[]) AS item (amount, reference)
        """
    static let lockReservation = """
        SELECT \(reservationColumns) FROM reservations WHERE id = $1 FOR UPDATE
        """
    static let resolveReservation = """
        UPDATE reservations SET status = $2, posted_amount = $3, resolved_at = now() WHERE id = $1
        RETURNING \(reservationColumns)
        """
    /// Newest first, keyset-paged on (created_at, id) after the reservation $4 (exact: no
    /// timestamp travels through a cursor and loses precision).
    static let selectReservations = """
        SELECT \(reservationColumns) FROM reservations
        WHERE account_id = $1
          AND ($2::text IS NULL OR status = $2)
          AND ($3::uuid IS NULL OR batch_id = $3)
          AND ($4::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM reservations WHERE id = $4))
        ORDER BY created_at DESC, id DESC
        LIMIT $5
        """
    static let lockPostOfReservation = """
        SELECT \(entryColumns) FROM ledger_entries WHERE reservation_id = $1 AND kind = 'post' FOR UPDATE
        """
    static let lockEntry = "SELECT \(entryColumns), tenant_id FROM ledger_entries WHERE id = $1 FOR UPDATE"
    static let refundedSoFar = """
        SELECT coalesce(sum(amount), 0)::bigint AS refunded FROM ledger_entries WHERE refunded_entry_id = $1
        """
    static let selectEntries = """
        SELECT \(entryColumns) FROM ledger_entries
        WHERE (debit_account_id = $1 OR credit_account_id = $1)
          AND ($2::text IS NULL OR unit = $2)
          AND ($3::text IS NULL OR kind = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4)
          AND ($5::timestamptz IS NULL OR created_at < $5)
          AND ($6::bigint IS NULL OR id < $6)
        ORDER BY id DESC
        LIMIT $7
        """

    // MARK: reads

    package static func balances(_ connection: PostgresConnection, account: AccountRecord) throws -> [Balance] {
        try connection.execute(selectBalances, [account.tenantID, account.id]).rows.map(decodeBalance)
    }

    static let selectBalancesOfID = """
        SELECT b.unit, b.posted, b.reserved, b.credit_limit FROM accounts a
        JOIN balances b ON b.tenant_id = a.tenant_id AND b.account_id = a.id WHERE a.id = $1 ORDER BY b.unit
        """

    /// An account (nil: no such account) and its balances, in one round trip.
    package static func accountWithBalances(_ connection: PostgresConnection, id: UUID) throws
        -> (AccountRecord?, [Balance])
    {
        let results = try connection.executeTogether([(AccountStore.selectByID, [id]), (selectBalancesOfID, [id])])
        return (try results[0].first.map(AccountStore.decode), try results[1].rows.map(decodeBalance))
    }

    package static func entries(
        _ connection: PostgresConnection, accountID: UUID, unit: CreditUnit?, kind: EntryKind?, from: Date?, to: Date?,
        beforeID: Int64?, limit: Int
    ) throws -> [EntryRecord] {
        try connection.execute(
            selectEntries, [accountID, unit?.rawValue, kind?.rawValue, from, to, beforeID, limit]
        ).rows.map(decodeEntry)
    }

    // MARK: movements between accounts

    /// Moves posted credits from `source` to `destination` (either may be a system account,
    /// given as nil account with its id). Fails with `insufficient_credits` when the source
    /// would fall below its limit.
    @discardableResult
    package static func move(
        _ connection: PostgresConnection, _ context: OperationContext, kind: EntryKind, unit: CreditUnit, amount: Int64,
        from source: LedgerParty, to destination: LedgerParty, reason: String?, saleID: UUID? = nil,
        refundedEntryID: Int64? = nil
    ) throws -> EntryRecord {
        // Invariants of the money path, checked where money moves (validation upstream already
        // refused anything else): a crash here is a bug found, never a wrong balance written.
        precondition(amount > 0, "a move of \(amount)")
        // Lock the customer balances involved in one global order: no deadlock between A→B and B→A.
        // With one customer side (the other is a system account) its conditional UPDATE is the
        // only lock taken, so no explicit lock (and no round trip) is needed.
        let customers = [source, destination].compactMap(\.customer).sorted { $0.id.uuidString < $1.id.uuidString }
        let tenantID = (destination.customer ?? source.customer)?.tenantID ?? SystemAccount.issuance
        let entry = EntryValues(
            tenantID: tenantID, kind: kind, unit: unit, amount: amount, debit: source.id, credit: destination.id,
            pending: false, reservationID: nil, refundedEntryID: refundedEntryID, saleID: saleID, reason: reason)
        if customers.count == 1 {
            return try moveOneSide(connection, context, customers[0], debited: source.customer != nil, entry)
        }
        if customers.count > 1 {
            for customer in customers {
                _ = try connection.execute(lockBalance, [customer.tenantID, customer.id, unit.rawValue])
            }
        }
        if let debited = source.customer {
            let changed = try connection.execute(changePosted, [debited.tenantID, debited.id, unit.rawValue, -amount])
            guard let row = changed.first else {
                let balance = try balance(connection, debited, unit)
                throw DomainError.insufficient(unit: unit, available: balance.available, requested: amount)
            }
            assertWithinLimit(try decodeBalance(row))
        }
        if let credited = destination.customer {
            try connection.execute(changePosted, [credited.tenantID, credited.id, unit.rawValue, amount])
        }
        return try insert(connection, context, entry)
    }

    /// A debit never leaves available below zero (posted − reserved + credit limit): the
    /// conditional UPDATE and the balances CHECK both hold it; this says so where it matters.
    static func assertWithinLimit(_ balance: Balance) {
        precondition(balance.available >= 0, "\(balance.unit.rawValue) balance left at \(balance.available) available")
    }

    // MARK: charges and refunds

    /// Immediate consumption (e.g. an inbound MMS).
    package static func charge(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, unit: CreditUnit,
        amount: Int64, reason: String?
    ) throws -> EntryRecord {
        try move(
            connection, context, kind: .charge, unit: unit, amount: amount, from: .customer(account),
            to: .system(SystemAccount.consumption), reason: reason)
    }

    /// Expires up to `amount` (all if nil) of an account's unreserved posted credits: pending
    /// reservations keep what they hold, and credit extended by a limit is never "expired".
    package static func expire(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, unit: CreditUnit,
        amount: Int64?, reason: String?
    ) throws -> EntryRecord {
        let balance = try balance(connection, account, unit)
        let expirable = max(0, balance.posted - balance.reserved)
        guard expirable > 0 else {
            throw DomainError(
                .conflict, "the account has no unreserved \(unit.rawValue) credits to expire",
                details: ["unit": .string(unit.rawValue), "posted": .int(balance.posted), "reserved": .int(balance.reserved)])
        }
        let requested = amount ?? expirable
        guard (1...expirable).contains(requested) else {
            throw DomainError.beyondState("amount", "must be between 1 and the \(expirable) unreserved credits")
        }
        return try move(
            connection, context, kind: .expire, unit: unit, amount: requested, from: .customer(account),
            to: .system(SystemAccount.consumption), reason: reason)
    }

    /// The entry and its tenant, locked so concurrent refunds of it are serialized.
    package static func lockEntry(_ connection: PostgresConnection, id: Int64) throws -> (EntryRecord, UUID)? {
        guard let row = try connection.execute(lockEntry, [id]).first else { return nil }
        return (try decodeEntry(row), try row.decode(UUID.self, "tenant_id"))
    }

    /// Gives back up to what a posted charge or post consumed, minus earlier refunds of it.
    package static func refund(
        _ connection: PostgresConnection, _ context: OperationContext, entry: EntryRecord, account: AccountRecord,
        amount: Int64?, reason: String?
    ) throws -> EntryRecord {
        guard entry.kind == .charge || entry.kind == .post, entry.creditAccountID == SystemAccount.consumption else {
            throw DomainError(.conflict, "only charge and post entries can be refunded")
        }
        let refunded = try connection.execute(refundedSoFar, [entry.id]).single().decode(Int64.self, "refunded")
        let refundable = entry.amount - refunded
        let requested = amount ?? refundable
        guard refundable > 0 else {
            throw DomainError(.conflict, "entry \(entry.id) is already fully refunded")
        }
        guard (1...refundable).contains(requested) else {
            throw DomainError.beyondState("amount", "must be between 1 and the refundable \(refundable)")
        }
        return try move(
            connection, context, kind: .refund, unit: entry.unit, amount: requested,
            from: .system(SystemAccount.consumption), to: .customer(account), reason: reason,
            refundedEntryID: entry.id)
    }

    // MARK: credit limits

    package static func setCreditLimit(
        _ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit, limit: Int64
    ) throws -> Balance {
        do {
            return try decodeBalance(
                try connection.execute(setCreditLimit, [account.tenantID, account.id, unit.rawValue, limit]).single())
        } catch let error as DatabaseError where error.code == .checkViolation {
            throw DomainError(
                .conflict, "the account already uses more than this limit would allow",
                details: ["unit": .string(unit.rawValue), "credit_limit": .int(limit)])
        }
    }

    // MARK: helpers

    static func balance(_ connection: PostgresConnection, _ account: AccountRecord, _ unit: CreditUnit) throws -> Balance {
        try decodeBalance(try connection.execute(lockBalance, [account.tenantID, account.id, unit.rawValue]).single())
    }

    static func decodeBalance(_ row: PostgresRow) throws -> Balance {
        Balance(
            unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
            posted: try row.decode(Int64.self, "posted"), reserved: try row.decode(Int64.self, "reserved"),
            creditLimit: try row.decode(Int64.self, "credit_limit"))
    }

    static func decodeEntry(_ row: PostgresRow) throws -> EntryRecord {
        EntryRecord(
            id: try row.decode(Int64.self, "id"), operationID: try row.decode(UUID.self, "operation_id"),
            kind: EntryKind(rawValue: try row.decode(String.self, "kind")) ?? .adjust,
            unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
            amount: try row.decode(Int64.self, "amount"),
            debitAccountID: try row.decode(UUID.self, "debit_account_id"),
            creditAccountID: try row.decode(UUID.self, "credit_account_id"),
            pending: try row.decode(Bool.self, "pending"), reservationID: try row.decode(UUID?.self, "reservation_id"),
            refundedEntryID: try row.decode(Int64?.self, "refunded_entry_id"),
            saleID: try row.decode(UUID?.self, "sale_id"), actorUserID: try row.decode(UUID?.self, "actor_user_id"),
            requestID: try row.decode(String?.self, "request_id"), reason: try row.decode(String?.self, "reason"),
            createdAt: try row.decode(Date.self, "created_at"))
    }

    static func decodeReservation(_ row: PostgresRow) throws -> ReservationRecord {
        ReservationRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"),
            unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
            amount: try row.decode(Int64.self, "amount"),
            status: ReservationStatus(rawValue: try row.decode(String.self, "status")) ?? .pending,
            postedAmount: try row.decode(Int64.self, "posted_amount"),
            reference: try row.decode(String?.self, "reference"), batchID: try row.decode(UUID?.self, "batch_id"),
            createdAt: try row.decode(Date.self, "created_at"))
    }
}

/// One side of a movement: a customer account (with a stored balance) or a system account.
package enum LedgerParty: Sendable {
    case customer(AccountRecord)
    case system(UUID)

    var customer: AccountRecord? {
        if case .customer(let account) = self { return account }
        return nil
    }

    var id: UUID {
        switch self {
        case .customer(let account): account.id
        case .system(let id): id
        }
    }
}
