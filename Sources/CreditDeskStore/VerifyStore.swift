import CreditDeskCore
import CreditDeskDB
import Foundation

/// The ledger invariants, checked against the data as it is: each balance equals the sum of its
/// entries, no available goes below its limit, each unit sums to zero, every key applied once;
/// and the audit log's: numbered without gaps per tenant, still append-only.
package enum VerifyStore {
    package struct Violation: Sendable, Equatable, CustomStringConvertible {
        package let check: String
        package let detail: String
        package var description: String { "\(check): \(detail)" }
    }

    static let checks: [(name: String, sql: String)] = [
        (
            "posted balance equals the sum of its posted entries",
            """
            SELECT b.account_id::text || ' ' || b.unit || ': stored ' || b.posted || ', entries say '
                   || (coalesce(c.total, 0) - coalesce(d.total, 0)) AS detail
            FROM balances b
            LEFT JOIN (SELECT credit_account_id AS id, unit, sum(amount) AS total FROM ledger_entries
                       WHERE NOT pending GROUP BY 1, 2) c ON c.id = b.account_id AND c.unit = b.unit
            LEFT JOIN (SELECT debit_account_id AS id, unit, sum(amount) AS total FROM ledger_entries
                       WHERE NOT pending GROUP BY 1, 2) d ON d.id = b.account_id AND d.unit = b.unit
            WHERE b.posted <> coalesce(c.total, 0) - coalesce(d.total, 0)
            """
        ),
        (
            "reserved balance equals the sum of pending reservations",
            """
            SELECT b.account_id::text || ' ' || b.unit || ': stored ' || b.reserved || ', reservations say '
                   || coalesce(r.total, 0) AS detail
            FROM balances b
            LEFT JOIN (SELECT account_id, unit, sum(amount) AS total FROM reservations WHERE status = 'pending'
                       GROUP BY 1, 2) r ON r.account_id = b.account_id AND r.unit = b.unit
            WHERE b.reserved <> coalesce(r.total, 0)
            """
        ),
        (
            "no available balance below its credit limit",
            """
            SELECT account_id::text || ' ' || unit || ': available ' || (posted - reserved + credit_limit) AS detail
            FROM balances WHERE posted - reserved + credit_limit < 0
            """
        ),
        (
            "every unit sums to zero across all accounts, system accounts included",
            """
            SELECT u.unit || ': sum ' || (coalesce(b.total, 0) + coalesce(s.total, 0)) AS detail
            FROM (VALUES ('sms'), ('mms')) AS u (unit)
            LEFT JOIN (SELECT unit, sum(posted) AS total FROM balances GROUP BY 1) b ON b.unit = u.unit
            LEFT JOIN (SELECT unit, sum(CASE WHEN credit_account_id IN ($1, $2) THEN amount ELSE 0 END)
                                  - sum(CASE WHEN debit_account_id IN ($1, $2) THEN amount ELSE 0 END) AS total
                       FROM ledger_entries WHERE NOT pending GROUP BY 1) s ON s.unit = u.unit
            WHERE coalesce(b.total, 0) + coalesce(s.total, 0) <> 0
            """
        ),
        (
            "every idempotency key was applied exactly once, with its response",
            """
            SELECT 'key ' || key || ' of ' || account_id::text || ': no recorded response' AS detail
            FROM idempotency_keys WHERE response_status IS NULL
            UNION ALL
            SELECT 'operation ' || operation_id::text || ' is claimed by ' || count(*) || ' keys'
            FROM idempotency_keys GROUP BY operation_id HAVING count(*) > 1
            """
        ),
        (
            "posted reservations match their post entries",
            """
            SELECT 'reservation ' || r.id::text || ': posted ' || r.posted_amount || ', entries ' || coalesce(sum(e.amount), 0)
            FROM reservations r LEFT JOIN ledger_entries e ON e.reservation_id = r.id AND e.kind = 'post'
            GROUP BY r.id, r.posted_amount HAVING r.posted_amount <> coalesce(sum(e.amount), 0)
            """
        ),
        (
            "no entry is refunded beyond its amount",
            """
            SELECT 'entry ' || o.id || ': amount ' || o.amount || ', refunded ' || sum(r.amount)
            FROM ledger_entries r JOIN ledger_entries o ON o.id = r.refunded_entry_id
            GROUP BY o.id, o.amount HAVING sum(r.amount) > o.amount
            """
        ),
        (
            // The numbers are unique and positive (the primary key and a CHECK), so a count and
            // a maximum both equal to the counter mean exactly 1…n.
            "the audit log numbers each tenant's changes 1, 2, 3… without a gap",
            """
            SELECT 'tenant ' || s.tenant_id::text || ': counter ' || s.last_seq || ', rows ' || count(l.seq)
                   || ', highest ' || coalesce(max(l.seq), 0)
            FROM audit_sequences s LEFT JOIN audit_log l ON l.tenant_id = s.tenant_id
            GROUP BY s.tenant_id, s.last_seq
            HAVING count(l.seq) <> s.last_seq OR coalesce(max(l.seq), 0) <> s.last_seq
            UNION ALL
            SELECT 'tenant ' || l.tenant_id::text || ': ' || count(*) || ' rows without a counter' FROM audit_log l
            WHERE NOT EXISTS (SELECT 1 FROM audit_sequences s WHERE s.tenant_id = l.tenant_id)
            GROUP BY l.tenant_id
            """
        ),
        (
            "the audit log refuses UPDATE, DELETE and TRUNCATE",
            """
            SELECT 'audit_log has ' || count(*) || ' of its 2 append-only triggers' FROM pg_trigger
            WHERE tgrelid = 'audit_log'::regclass AND tgname IN ('audit_log_no_update', 'audit_log_no_truncate')
              AND tgenabled <> 'D'
            HAVING count(*) <> 2
            """
        ),
    ]

    package static func verify(_ connection: PostgresConnection) throws -> [Violation] {
        var violations = [Violation]()
        for check in checks {
            let parameters: [any PostgresBindable] =
                check.sql.contains("$1") ? [SystemAccount.issuance, SystemAccount.consumption] : []
            for row in try connection.execute(check.sql, parameters).rows {
                violations.append(Violation(check: check.name, detail: row.values.first.flatMap { $0 } ?? ""))
            }
        }
        return violations
    }
}
