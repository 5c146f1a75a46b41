import CreditDeskCore
import CreditDeskDB
import Foundation

package struct ClientOverviewRow: Sendable, Equatable {
    package let id: UUID
    package let name: String
    package let status: AccountStatus
    package let smsAvailable: Int64
    package let smsReserved: Int64
    package let smsUsed: Int64
    package let mmsAvailable: Int64
    package let mmsReserved: Int64
    package let mmsUsed: Int64
}

package enum OverviewSort: String, Sendable, CaseIterable {
    case name
    case smsAvailable = "sms_available"
    case smsUsed = "sms_used"
    case mmsAvailable = "mms_available"
    case mmsUsed = "mms_used"
}

package struct OverviewCursor: Sendable, Equatable {
    package let sortValue: String
    package let id: UUID
    package init(sortValue: String, id: UUID) {
        self.sortValue = sortValue
        self.id = id
    }
}

/// "Clients → Show All" and the reseller dashboard. Usage since the start of the period is
/// `CreditUse`: the same sent and received debits the usage report counts as consumed,
/// found per account through the entry indexes.
package enum OverviewStore {
    /// The entry kinds of `CreditUse`, as an SQL list (constants of the code, not input).
    static let usedKinds = CreditUse.kinds.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    static let usedExpression = """
        (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
          WHERE e.debit_account_id = a.id AND e.credit_account_id = $6 AND NOT e.pending AND e.unit = '%UNIT%'
            AND e.kind IN (\(usedKinds)) AND e.created_at >= $7)
        """

    static let overviewColumns = """
        a.id, a.name, a.status,
        s.posted - s.reserved + s.credit_limit AS sms_available, s.reserved AS sms_reserved,
        m.posted - m.reserved + m.credit_limit AS mms_available, m.reserved AS mms_reserved
        """
    static let overviewSource = """
        FROM accounts a
        JOIN balances s ON s.tenant_id = a.tenant_id AND s.account_id = a.id AND s.unit = 'sms'
        JOIN balances m ON m.tenant_id = a.tenant_id AND m.account_id = a.id AND m.unit = 'mms'
        WHERE a.parent_id = $1 AND a.kind = 'client'
          AND ($2::text IS NULL OR a.name ILIKE '%' || $2 || '%')
        """

    static func used(_ unit: CreditUnit) -> String {
        "(\(usedExpression.replacingOccurrences(of: "%UNIT%", with: unit.rawValue)))::bigint AS \(unit.rawValue)_used"
    }

    /// One statement per sort column and direction; the column comes from a closed set, never
    /// from input. Sorted by name or by what is available, the page of ids is cut first from an
    /// index in that order (`accounts_children`; `balances_available`), then its rows get their
    /// balances and usage; sorted by usage, every client's usage is summed to order them.
    static func clientsStatement(sort: OverviewSort, descending: Bool) -> String {
        let comparison = descending ? "<" : ">"
        let order = descending ? "DESC" : "ASC"
        let page: String
        switch sort {
        case .name:
            page = """
                SELECT a.tenant_id, a.id, lower(a.name) AS sort_key FROM accounts a
                WHERE a.parent_id = $1 AND a.kind = 'client' AND ($2::text IS NULL OR a.name ILIKE '%' || $2 || '%')
                  AND ($3::text IS NULL OR (lower(a.name), a.id) \(comparison) ($3::text, $4::uuid))
                ORDER BY lower(a.name) \(order), a.id \(order)
                LIMIT $5
                """
        case .smsAvailable, .mmsAvailable:
            let unit = sort == .smsAvailable ? "sms" : "mms"
            page = """
                SELECT k.tenant_id, k.account_id AS id, k.posted - k.reserved + k.credit_limit AS sort_key
                FROM balances k JOIN accounts a ON a.tenant_id = k.tenant_id AND a.id = k.account_id
                WHERE k.tenant_id = (SELECT r.tenant_id FROM accounts r WHERE r.id = $1) AND k.unit = '\(unit)'
                  AND a.parent_id = $1 AND a.kind = 'client' AND ($2::text IS NULL OR a.name ILIKE '%' || $2 || '%')
                  AND ($3::text IS NULL OR ((k.posted - k.reserved + k.credit_limit), k.account_id) \(comparison) ($3::bigint, $4::uuid))
                ORDER BY (k.posted - k.reserved + k.credit_limit) \(order), k.account_id \(order)
                LIMIT $5
                """
        case .smsUsed, .mmsUsed:
            let key = sort.rawValue
            return """
                WITH rows AS (
                    SELECT \(overviewColumns), \(used(.sms)), \(used(.mms))
                    \(overviewSource)
                )
                SELECT id, name, status, sms_available, sms_reserved, sms_used, mms_available, mms_reserved, mms_used,
                       \(key)::text AS sort_value
                FROM rows
                WHERE ($3::text IS NULL OR (\(key), id) \(comparison) ($3::bigint, $4::uuid))
                ORDER BY \(key) \(order), id \(order)
                LIMIT $5
                """
        }
        return """
            WITH page AS (\(page))
            SELECT \(overviewColumns), \(used(.sms)), \(used(.mms)), p.sort_key::text AS sort_value
            FROM page p
            JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.id
            JOIN balances s ON s.tenant_id = a.tenant_id AND s.account_id = a.id AND s.unit = 'sms'
            JOIN balances m ON m.tenant_id = a.tenant_id AND m.account_id = a.id AND m.unit = 'mms'
            ORDER BY p.sort_key \(order), p.id \(order)
            """
    }

    static let dashboard = """
        SELECT u.unit,
               (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e JOIN accounts a ON a.id = e.debit_account_id
                 WHERE a.path @> ARRAY[$1::uuid] AND e.credit_account_id = $2 AND NOT e.pending AND e.unit = u.unit
                   AND e.kind IN (\(usedKinds)) AND e.created_at >= $3) AS used
        FROM (VALUES ('sms'), ('mms')) AS u (unit)
        """
    static let subtreeCounts = """
        SELECT count(*) FILTER (WHERE kind = 'client')::bigint AS clients,
               count(*) FILTER (WHERE kind = 'reseller')::bigint AS resellers
        FROM accounts WHERE path @> ARRAY[$1::uuid] AND id <> $1
        """

    package static func clients(
        _ connection: PostgresConnection, resellerID: UUID, search: String?, sort: OverviewSort, descending: Bool,
        after cursor: OverviewCursor?, limit: Int, periodStart: Date
    ) throws -> [(ClientOverviewRow, sortValue: String)] {
        try connection.execute(
            clientsStatement(sort: sort, descending: descending),
            [resellerID, search.map(escapeLike), cursor?.sortValue, cursor?.id, limit, SystemAccount.consumption,
             periodStart]
        ).rows.map { row in
            (
                ClientOverviewRow(
                    id: try row.decode(UUID.self, "id"), name: try row.decode(String.self, "name"),
                    status: AccountStatus(rawValue: try row.decode(String.self, "status")) ?? .active,
                    smsAvailable: try row.decode(Int64.self, "sms_available"),
                    smsReserved: try row.decode(Int64.self, "sms_reserved"),
                    smsUsed: try row.decode(Int64.self, "sms_used"),
                    mmsAvailable: try row.decode(Int64.self, "mms_available"),
                    mmsReserved: try row.decode(Int64.self, "mms_reserved"),
                    mmsUsed: try row.decode(Int64.self, "mms_used")),
                try row.decode(String.self, "sort_value")
            )
        }
    }

    package struct Dashboard: Sendable, Equatable {
        package let smsUsed: Int64
        package let mmsUsed: Int64
        package let clients: Int64
        package let resellers: Int64
        package let periodStart: Date
    }

    package static func dashboard(_ connection: PostgresConnection, accountID: UUID, periodStart: Date) throws -> Dashboard {
        var used = [String: Int64]()
        for row in try connection.execute(dashboard, [accountID, SystemAccount.consumption, periodStart]).rows {
            used[try row.decode(String.self, "unit")] = try row.decode(Int64.self, "used")
        }
        let counts = try connection.execute(subtreeCounts, [accountID]).single()
        return Dashboard(
            smsUsed: used["sms"] ?? 0, mmsUsed: used["mms"] ?? 0, clients: try counts.decode(Int64.self, "clients"),
            resellers: try counts.decode(Int64.self, "resellers"), periodStart: periodStart)
    }

    /// The first instant of the calendar month (UTC) containing `date`.
    package static func monthStart(of date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: calendar.dateComponents([.year, .month], from: date))!
    }
}
