import CreditDeskCore
import CreditDeskDB
import Foundation

package enum UsageGrouping: String, Sendable, CaseIterable {
    case day, month
}

package enum UsageScope: String, Sendable, CaseIterable {
    /// The account itself only.
    case account
    /// The account's direct children, each on its own ledger.
    case children
    /// Every account below the account, each on its own ledger.
    case descendants
}

/// A reporting period: whole days `[from, to)` in an IANA time zone.
package struct UsagePeriod: Sendable, Equatable {
    package let from: String  // YYYY-MM-DD
    package let to: String
    package let timeZone: String

    /// At most this many days in one report: bounded work per request.
    package static let maxDays = 1_096

    package init(from: String, to: String, timeZone: String) throws(DomainError) {
        guard TimeZone(identifier: timeZone) != nil else {
            throw DomainError.invalid("tz", "is not an IANA time zone (e.g. Europe/Berlin, UTC)")
        }
        guard let fromDate = Self.parseDay(from) else { throw DomainError.invalid("from", "must be a date YYYY-MM-DD") }
        guard let toDate = Self.parseDay(to) else { throw DomainError.invalid("to", "must be a date YYYY-MM-DD") }
        guard fromDate < toDate else { throw DomainError.invalid("to", "must be after from (the period is [from, to))") }
        guard toDate.timeIntervalSince(fromDate) <= Double(Self.maxDays) * 86_400 else {
            throw DomainError.invalid("to", "a report covers at most \(Self.maxDays) days")
        }
        self.from = from
        self.to = to
        self.timeZone = timeZone
    }

    static func parseDay(_ text: String) -> Date? {
        guard let day = RequestParsing.calendarDay(text), let utc = TimeZone(identifier: "UTC") else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        return calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
    }
}

/// What moved in and out of one account's credits of one unit in one bucket.
package struct UsageFlows: Sendable, Equatable {
    /// In: grants, transfers and manual additions.
    package var granted: Int64 = 0
    /// In: package purchases.
    package var sold: Int64 = 0
    package var refunded: Int64 = 0
    /// Out: posted reservations, i.e. sent messages (SMS segments, or MMS).
    package var sent: Int64 = 0
    /// Out: immediate charges, i.e. received MMS (and any other direct charge).
    package var received: Int64 = 0
    /// Out: unused credits expired by the parent.
    package var expired: Int64 = 0
    /// Out: manual removals.
    package var removed: Int64 = 0
    /// Out: credits given to children (transfers, grants, package sales to them).
    package var transferredOut: Int64 = 0

    package init() {}

    /// Credits used: sent plus received.
    package var consumed: Int64 { sent + received }

    package static func + (lhs: Self, rhs: Self) -> Self {
        var sum = lhs
        sum.granted += rhs.granted
        sum.sold += rhs.sold
        sum.refunded += rhs.refunded
        sum.sent += rhs.sent
        sum.received += rhs.received
        sum.expired += rhs.expired
        sum.removed += rhs.removed
        sum.transferredOut += rhs.transferredOut
        return sum
    }
}

/// One account's flows of one unit in one bucket (a day or month, or the whole period):
/// `opening + granted + sold + refunded − consumed − expired − removed − transferredOut = closing`.
package struct UsageRow: Sendable, Equatable {
    package let accountID: UUID
    package let accountName: String
    package let bucket: String  // YYYY-MM-DD (the bucket's first day, local to the period's zone)
    package let unit: CreditUnit
    package let opening: Int64
    package let flows: UsageFlows
    package let closing: Int64

    package init(accountID: UUID, accountName: String, bucket: String, unit: CreditUnit, opening: Int64, flows: UsageFlows, closing: Int64) {
        self.accountID = accountID
        self.accountName = accountName
        self.bucket = bucket
        self.unit = unit
        self.opening = opening
        self.flows = flows
        self.closing = closing
    }
}

package struct RevenueRow: Sendable, Equatable {
    package let currency: String
    package let sales: Int64
    package let amountMinor: Int64
}

/// Usage aggregation and export rows: daily rows for keyset-paginated batches of accounts,
/// entries through one server-side cursor, so an export of any size runs in bounded memory.
package enum UsageStore {
    /// Accounts `a` in scope `$2` of root `$1`: the one definition every usage statement uses.
    static let scopePredicate = """
        CASE $2::text
            WHEN 'account' THEN a.id = $1
            WHEN 'children' THEN a.parent_id = $1
            ELSE a.path @> ARRAY[$1::uuid] AND a.id <> $1
        END
        """

    /// The accounts a report covers, in id order, after `afterID`.
    static let scopeAccounts = """
        SELECT a.id, a.name FROM accounts a
        WHERE \(scopePredicate)
          AND ($3::uuid IS NULL OR a.id > $3)
        ORDER BY a.id
        LIMIT $4
        """

    /// Flows per account, unit and bucket for a batch of accounts, with each bucket's opening
    /// balance (the balance at the period's start plus all earlier buckets' net flow).
    static let flows = """
        WITH bounds AS (
            SELECT ($2::date)::timestamp AT TIME ZONE $4 AS start_at, ($3::date)::timestamp AT TIME ZONE $4 AS end_at
        ),
        batch AS (SELECT unnest($1::text::uuid[]) AS id),
        lines AS (
            SELECT e.credit_account_id AS account_id, e.unit, e.kind, e.amount AS signed, e.created_at
            FROM ledger_entries e JOIN batch b ON e.credit_account_id = b.id, bounds
            WHERE NOT e.pending AND e.created_at < bounds.end_at
            UNION ALL
            SELECT e.debit_account_id, e.unit, e.kind, -e.amount, e.created_at
            FROM ledger_entries e JOIN batch b ON e.debit_account_id = b.id, bounds
            WHERE NOT e.pending AND e.created_at < bounds.end_at
        ),
        opening AS (
            SELECT l.account_id, l.unit, sum(l.signed) AS amount FROM lines l, bounds
            WHERE l.created_at < bounds.start_at GROUP BY 1, 2
        ),
        bucketed AS (
            SELECT l.account_id, l.unit,
                   date_trunc($5, l.created_at AT TIME ZONE $4)::date AS bucket,
                   coalesce(sum(l.signed) FILTER (WHERE l.signed > 0 AND l.kind IN ('grant', 'transfer', 'adjust')), 0) AS granted,
                   coalesce(sum(l.signed) FILTER (WHERE l.signed > 0 AND l.kind = 'sale'), 0) AS sold,
                   coalesce(sum(l.signed) FILTER (WHERE l.signed > 0 AND l.kind = 'refund'), 0) AS refunded,
                   coalesce(-sum(l.signed) FILTER (WHERE l.signed < 0 AND l.kind = '\(CreditUse.sent.rawValue)'), 0) AS sent,
                   coalesce(-sum(l.signed) FILTER (WHERE l.signed < 0 AND l.kind = '\(CreditUse.received.rawValue)'), 0) AS received,
                   coalesce(-sum(l.signed) FILTER (WHERE l.signed < 0 AND l.kind = 'expire'), 0) AS expired,
                   coalesce(-sum(l.signed) FILTER (WHERE l.signed < 0 AND l.kind = 'adjust'), 0) AS removed,
                   coalesce(-sum(l.signed) FILTER (WHERE l.signed < 0 AND l.kind IN ('grant', 'transfer', 'sale')), 0) AS transferred_out,
                   sum(l.signed) AS net
            FROM lines l, bounds WHERE l.created_at >= bounds.start_at
            GROUP BY 1, 2, 3
        )
        SELECT b.account_id, b.unit, b.bucket::text AS bucket, b.granted, b.sold, b.refunded, b.sent, b.received,
               b.expired, b.removed, b.transferred_out,
               (coalesce(o.amount, 0) + sum(b.net) OVER w - b.net)::bigint AS opening,
               (coalesce(o.amount, 0) + sum(b.net) OVER w)::bigint AS closing
        FROM bucketed b LEFT JOIN opening o ON o.account_id = b.account_id AND o.unit = b.unit
        WINDOW w AS (PARTITION BY b.account_id, b.unit ORDER BY b.bucket ROWS UNBOUNDED PRECEDING)
        ORDER BY b.account_id, b.bucket, b.unit
        """

    /// Opening balance per account and unit at the period's start (for accounts with no
    /// activity in the period, whose opening equals their closing).
    static let balancesAt = """
        WITH batch AS (SELECT unnest($1::text::uuid[]) AS id),
        start_at AS (SELECT ($2::date)::timestamp AT TIME ZONE $3 AS at)
        SELECT b.id AS account_id, u.unit,
               (coalesce((SELECT sum(amount) FROM ledger_entries e, start_at
                          WHERE e.credit_account_id = b.id AND e.unit = u.unit AND NOT e.pending AND e.created_at < start_at.at), 0)
              - coalesce((SELECT sum(amount) FROM ledger_entries e, start_at
                          WHERE e.debit_account_id = b.id AND e.unit = u.unit AND NOT e.pending AND e.created_at < start_at.at), 0)
               )::bigint AS amount
        FROM batch b CROSS JOIN (VALUES ('sms'), ('mms')) AS u (unit)
        """

    static let revenue = """
        SELECT s.currency, count(*)::bigint AS sales, sum(s.price_minor)::bigint AS amount_minor
        FROM package_sales s JOIN accounts a ON a.id = s.buyer_id
        WHERE \(scopePredicate)
          AND s.created_at >= ($3::date)::timestamp AT TIME ZONE $5
          AND s.created_at < ($4::date)::timestamp AT TIME ZONE $5
        GROUP BY s.currency ORDER BY s.currency
        """

    /// Every entry of the scope's accounts in the period, as one cursor read in batches.
    static let declareEntriesCursor = """
        DECLARE usage_entries NO SCROLL CURSOR FOR
        WITH scope AS (
            SELECT a.id, a.name FROM accounts a
            WHERE \(scopePredicate)
        ),
        bounds AS (
            SELECT ($3::date)::timestamp AT TIME ZONE $5 AS start_at, ($4::date)::timestamp AT TIME ZONE $5 AS end_at
        )
        SELECT e.id, 1 AS side, s.id AS account_id, s.name, e.kind, e.unit, e.amount AS signed,
               e.debit_account_id AS counterparty, e.reason, e.request_id,
               to_char(e.created_at AT TIME ZONE $5, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS created_local
        FROM ledger_entries e JOIN scope s ON e.credit_account_id = s.id, bounds
        WHERE NOT e.pending AND e.created_at >= bounds.start_at AND e.created_at < bounds.end_at
        UNION ALL
        SELECT e.id, 2, s.id, s.name, e.kind, e.unit, -e.amount, e.credit_account_id, e.reason, e.request_id,
               to_char(e.created_at AT TIME ZONE $5, 'YYYY-MM-DD"T"HH24:MI:SS.MS')
        FROM ledger_entries e JOIN scope s ON e.debit_account_id = s.id, bounds
        WHERE NOT e.pending AND e.created_at >= bounds.start_at AND e.created_at < bounds.end_at
        """

    /// Opens the entries cursor inside a read-only snapshot on `connection`.
    package static func openEntriesCursor(
        _ connection: PostgresConnection, root: UUID, scope: UsageScope, period: UsagePeriod
    ) throws {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try connection.execute(
            declareEntriesCursor, [root, scope.rawValue, period.from, period.to, period.timeZone])
    }

    /// FETCH takes its count as syntax, not a parameter; it comes from code, never a request.
    /// Rows are encoded straight from the result's bytes: an export gains nothing from making
    /// Swift values of ids and enums only to print them again.
    package static func fetchEntries(_ connection: PostgresConnection, batch: Int, encoder: ExportByteEncoder) throws
        -> ([UInt8], Int)
    {
        precondition((1...100_000).contains(batch), "fetch batch out of range")
        let issuance = Array(SystemAccount.issuance.uuidString.lowercased().utf8)
        let consumption = Array(SystemAccount.consumption.uuidString.lowercased().utf8)
        let (issuanceName, consumptionName) = (Array("issuance".utf8), Array("consumption".utf8))
        // Export column → cursor column (id, side, account_id, name, kind, unit, signed,
        // counterparty, reason, request_id, created_local).
        let sourceColumn = [0, 10, 2, 3, 4, 5, 6, 7, 8, 9]
        var out = [UInt8]()
        out.reserveCapacity(batch * 160)
        let count = try connection.forEachRawRow("FETCH FORWARD \(batch) FROM usage_entries") { row in
            encoder.appendRow(to: &out) { column, write in
                row.withBytes(sourceColumn[column]) { bytes in
                    guard column == 7, let bytes else { return write(bytes) }
                    // System accounts by name, like everywhere else in the API.
                    if bytes.elementsEqual(issuance) {
                        issuanceName.withUnsafeBufferPointer { write($0) }
                    } else if bytes.elementsEqual(consumption) {
                        consumptionName.withUnsafeBufferPointer { write($0) }
                    } else {
                        write(bytes)
                    }
                }
            }
        }
        return (out, count)
    }

    package static func scope(
        _ connection: PostgresConnection, root: UUID, scope: UsageScope, after: UUID?, limit: Int
    ) throws -> [(UUID, String)] {
        try connection.execute(scopeAccounts, [root, scope.rawValue, after, limit]).rows.map {
            (try $0.decode(UUID.self, "id"), try $0.decode(String.self, "name"))
        }
    }

    /// Usage rows for a batch of accounts. Accounts without activity in the period get one
    /// row per unit for the period's first bucket, with opening = closing, so nothing is
    /// silently missing from a bill.
    package static func usage(
        _ connection: PostgresConnection, accounts: [(UUID, String)], period: UsagePeriod, grouping: UsageGrouping
    ) throws -> [UsageRow] {
        guard !accounts.isEmpty else { return [] }
        let ids = arrayLiteral(accounts.map(\.0))
        let names = Dictionary(accounts.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        var rows = [UsageRow]()
        var active = Set<String>()
        for row in try connection.execute(flows, [ids, period.from, period.to, period.timeZone, grouping.rawValue]).rows {
            let account = try row.decode(UUID.self, "account_id")
            let unit = CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms
            active.insert("\(account) \(unit.rawValue)")
            var flows = UsageFlows()
            flows.granted = try row.decode(Int64.self, "granted")
            flows.sold = try row.decode(Int64.self, "sold")
            flows.refunded = try row.decode(Int64.self, "refunded")
            flows.sent = try row.decode(Int64.self, "sent")
            flows.received = try row.decode(Int64.self, "received")
            flows.expired = try row.decode(Int64.self, "expired")
            flows.removed = try row.decode(Int64.self, "removed")
            flows.transferredOut = try row.decode(Int64.self, "transferred_out")
            rows.append(
                UsageRow(
                    accountID: account, accountName: names[account] ?? "", bucket: try row.decode(String.self, "bucket"),
                    unit: unit, opening: try row.decode(Int64.self, "opening"), flows: flows,
                    closing: try row.decode(Int64.self, "closing")))
        }
        let firstBucket = grouping == .month ? String(period.from.prefix(7)) + "-01" : period.from
        for row in try connection.execute(balancesAt, [ids, period.from, period.timeZone]).rows {
            let account = try row.decode(UUID.self, "account_id")
            let unit = CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms
            guard !active.contains("\(account) \(unit.rawValue)") else { continue }
            let amount = try row.decode(Int64.self, "amount")
            rows.append(
                UsageRow(
                    accountID: account, accountName: names[account] ?? "", bucket: firstBucket, unit: unit,
                    opening: amount, flows: UsageFlows(), closing: amount))
        }
        return rows.sorted { ($0.accountID.uuidString, $0.bucket, $0.unit.rawValue) < ($1.accountID.uuidString, $1.bucket, $1.unit.rawValue) }
    }

    package static func revenue(_ connection: PostgresConnection, root: UUID, scope: UsageScope, period: UsagePeriod)
        throws -> [RevenueRow]
    {
        try connection.execute(revenue, [root, scope.rawValue, period.from, period.to, period.timeZone]).rows.map {
            RevenueRow(
                currency: try $0.decode(String.self, "currency"), sales: try $0.decode(Int64.self, "sales"),
                amountMinor: try $0.decode(Int64.self, "amount_minor"))
        }
    }
}
