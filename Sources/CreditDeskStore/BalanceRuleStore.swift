import CreditDeskCore
import CreditDeskDB
import Foundation

package struct BalanceAlertRecord: Sendable, Equatable {
    package let tenantID: UUID
    package let accountID: UUID
    package let rule: BalanceAlertRule
    package let armed: Bool
    package let alertedAt: Date?
    package let updatedAt: Date
}

package struct BalanceNoticeRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let unit: CreditUnit
    package let kind: String
    package let available: Int64
    package let threshold: String
    package let notifyParent: Bool
    package let detail: String?
    package let createdAt: Date
}

/// Low-balance alerts and the notices they write (sql/0021_balance_alerts_top_ups.sql); the
/// crossings themselves are found by the schema's trigger on `balances`.
package enum BalanceRuleStore {
    /// Marks a balance as having rules (or not), which is what makes its updates check them;
    /// it also locks the balance row, before the rule's, as the trigger does.
    static let watchBalance = "UPDATE balances SET watched = $4 WHERE tenant_id = $1 AND account_id = $2 AND unit = $3"
    static let hasRules = """
        SELECT EXISTS (SELECT 1 FROM balance_alerts WHERE tenant_id = $1 AND account_id = $2 AND unit = $3)
            OR EXISTS (SELECT 1 FROM auto_top_ups WHERE tenant_id = $1 AND account_id = $2 AND unit = $3) AS any
        """
    static let alertColumns = "tenant_id, account_id, unit, measure, below, notify_parent, armed, alerted_at, updated_at"
    /// A new or changed rule starts armed: if the balance is below already, its next change alerts.
    static let upsertAlert = """
        INSERT INTO balance_alerts (tenant_id, account_id, unit, measure, below, notify_parent)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (tenant_id, account_id, unit) DO UPDATE SET measure = excluded.measure, below = excluded.below,
            notify_parent = excluded.notify_parent, armed = true, updated_at = now()
        RETURNING \(alertColumns)
        """
    static let deleteAlert = "DELETE FROM balance_alerts WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 RETURNING unit"
    static let selectAlerts = "SELECT \(alertColumns) FROM balance_alerts WHERE tenant_id = $1 AND account_id = $2 ORDER BY unit"
    /// Alerts measured in days, with what the balance has and what it used in the last 7 days
    /// (posted and charged, less refunds).
    static let selectDaysAlerts = """
        SELECT a.tenant_id, a.account_id, a.unit, a.below, a.notify_parent, a.armed,
               b.posted - b.reserved + b.credit_limit AS available,
               (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
                WHERE e.debit_account_id = a.account_id AND e.unit = a.unit AND e.kind IN ('post', 'charge')
                  AND e.created_at > now() - interval '7 days')
             - (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
                WHERE e.credit_account_id = a.account_id AND e.unit = a.unit AND e.kind = 'refund'
                  AND e.created_at > now() - interval '7 days') AS consumed
        FROM balance_alerts a JOIN balances b ON b.tenant_id = a.tenant_id AND b.account_id = a.account_id AND b.unit = a.unit
        WHERE a.measure = 'days'
        ORDER BY a.tenant_id, a.account_id, a.unit
        """
    /// Arms or disarms an alert that is in the other state; no row: it was not.
    static let setArmed = """
        UPDATE balance_alerts SET armed = $4, alerted_at = CASE WHEN $4 THEN alerted_at ELSE now() END
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND armed = NOT $4 RETURNING unit
        """
    static let writeNotice = "SELECT balance_notice($1, $2, $3, $4, $5, $6, $7, $8)"
    static let selectNotice = """
        SELECT id, tenant_id, account_id, unit, kind, available, threshold, notify_parent, detail, created_at
        FROM balance_notices WHERE id = $1
        """
    static let markMailed = "UPDATE balance_notices SET mailed_to = $2::text[] WHERE id = $1"

    package static func watch(_ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit, _ watched: Bool) throws {
        try connection.execute(watchBalance, [account.tenantID, account.id, unit.rawValue, watched])
    }

    /// Stops watching the balance once it has no rule left.
    package static func unwatchIfUnruled(_ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit) throws {
        let any = try connection.execute(hasRules, [account.tenantID, account.id, unit.rawValue]).single().decode(Bool.self, "any")
        if !any { try watch(connection, account: account, unit: unit, false) }
    }

    package static func setAlert(_ connection: PostgresConnection, account: AccountRecord, _ rule: BalanceAlertRule) throws
        -> BalanceAlertRecord
    {
        try watch(connection, account: account, unit: rule.unit, true)
        return try decodeAlert(
            connection.execute(
                upsertAlert,
                [account.tenantID, account.id, rule.unit.rawValue, rule.measure.rawValue, rule.below, rule.notifyParent]
            ).single())
    }

    /// Removes the unit's alert; false when there was none.
    package static func deleteAlert(_ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit) throws -> Bool {
        try removeRule(connection, deleteAlert, account: account, unit: unit)
    }

    /// Runs `statement` (a DELETE of one of the balance's rules, answering a row when it
    /// removed one) with the balance locked first, as the trigger locks it, and stops watching
    /// the balance once it has no rule left; false when there was no rule to remove.
    static func removeRule(_ connection: PostgresConnection, _ statement: String, account: AccountRecord, unit: CreditUnit)
        throws -> Bool
    {
        let key: [any PostgresBindable] = [account.tenantID, account.id, unit.rawValue]
        try connection.execute(LedgerStore.lockBalance, key)
        let deleted = try connection.execute(statement, key).first != nil
        try unwatchIfUnruled(connection, account: account, unit: unit)
        return deleted
    }

    package static func alerts(_ connection: PostgresConnection, account: AccountRecord) throws -> [BalanceAlertRecord] {
        try connection.execute(selectAlerts, [account.tenantID, account.id]).rows.map(decodeAlert)
    }

    static func decodeAlert(_ row: PostgresRow) throws -> BalanceAlertRecord {
        BalanceAlertRecord(
            tenantID: try row.decode(UUID.self, "tenant_id"), accountID: try row.decode(UUID.self, "account_id"),
            rule: BalanceAlertRule(
                unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
                measure: BalanceMeasure(rawValue: try row.decode(String.self, "measure")) ?? .credits,
                below: try row.decode(Int64.self, "below"), notifyParent: try row.decode(Bool.self, "notify_parent")),
            armed: try row.decode(Bool.self, "armed"), alertedAt: try row.decode(Date?.self, "alerted_at"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }

    /// An alert measured in days, as the periodic check reads it.
    package struct DaysAlert: Sendable {
        package let tenantID: UUID
        package let accountID: UUID
        package let unit: CreditUnit
        package let below: Int64
        package let notifyParent: Bool
        package let armed: Bool
        package let available: Int64
        package let consumedLastWeek: Int64
    }

    package static func daysAlerts(_ connection: PostgresConnection) throws -> [DaysAlert] {
        try connection.execute(selectDaysAlerts).rows.map { row in
            DaysAlert(
                tenantID: try row.decode(UUID.self, "tenant_id"), accountID: try row.decode(UUID.self, "account_id"),
                unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms, below: try row.decode(Int64.self, "below"),
                notifyParent: try row.decode(Bool.self, "notify_parent"), armed: try row.decode(Bool.self, "armed"),
                available: try row.decode(Int64.self, "available"), consumedLastWeek: try row.decode(Int64.self, "consumed"))
        }
    }

    /// Moves the alert to `armed` if it was in the other state; false when another daemon did first.
    package static func setArmed(_ connection: PostgresConnection, _ alert: DaysAlert, _ armed: Bool) throws -> Bool {
        try connection.execute(setArmed, [alert.tenantID, alert.accountID, alert.unit.rawValue, armed]).first != nil
    }

    /// Writes a notice (kind `low`, `recovered` or `top_up_failed`) with its email job and webhook event.
    package static func notice(
        _ connection: PostgresConnection, tenantID: UUID, accountID: UUID, unit: CreditUnit, kind: String, available: Int64,
        threshold: String, notifyParent: Bool, detail: String?
    ) throws {
        try connection.execute(
            writeNotice, [tenantID, accountID, unit.rawValue, kind, available, threshold, notifyParent, detail])
    }

    package static func notice(_ connection: PostgresConnection, id: UUID) throws -> BalanceNoticeRecord? {
        try connection.execute(selectNotice, [id]).first.map { row in
            BalanceNoticeRecord(
                id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
                accountID: try row.decode(UUID.self, "account_id"), unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
                kind: try row.decode(String.self, "kind"), available: try row.decode(Int64.self, "available"),
                threshold: try row.decode(String.self, "threshold"), notifyParent: try row.decode(Bool.self, "notify_parent"),
                detail: try row.decode(String?.self, "detail"), createdAt: try row.decode(Date.self, "created_at"))
        }
    }

    package static func markMailed(_ connection: PostgresConnection, noticeID: UUID, to addresses: [String]) throws {
        try connection.execute(markMailed, [noticeID, arrayLiteral(addresses)])
    }
}
