import CreditDeskCore
import CreditDeskDB
import Foundation

package struct AutoTopUpRecord: Sendable, Equatable {
    package let tenantID: UUID
    package let accountID: UUID
    package let sourceAccountID: UUID
    package let rule: AutoTopUpRule
    package let setBy: UUID
    package let armed: Bool
    package let updatedAt: Date
}

package struct TopUpRunRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let unit: CreditUnit
    package let status: String
    package let amount: Int64?
    package let entryID: Int64?
    package let detail: String?
    package let createdAt: Date
    package let resolvedAt: Date?
}

/// Automatic top-ups and their runs (sql/0021_balance_alerts_top_ups.sql): the trigger on
/// `balances` writes a pending run and its job at each crossing; the job resolves it.
package enum TopUpStore {
    static let ruleColumns = """
        tenant_id, account_id, unit, source_account_id, below, amount, max_credits_per_day, max_credits_per_month, set_by,
        armed, updated_at
        """
    static let upsertRule = """
        INSERT INTO auto_top_ups (tenant_id, account_id, unit, source_account_id, below, amount, max_credits_per_day,
            max_credits_per_month, set_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (tenant_id, account_id, unit) DO UPDATE SET source_account_id = excluded.source_account_id,
            below = excluded.below, amount = excluded.amount, max_credits_per_day = excluded.max_credits_per_day,
            max_credits_per_month = excluded.max_credits_per_month, set_by = excluded.set_by, armed = true, updated_at = now()
        RETURNING \(ruleColumns)
        """
    static let deleteRule = "DELETE FROM auto_top_ups WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 RETURNING unit"
    static let selectRules = "SELECT \(ruleColumns) FROM auto_top_ups WHERE tenant_id = $1 AND account_id = $2 ORDER BY unit"
    static let selectRule = "SELECT \(ruleColumns) FROM auto_top_ups WHERE tenant_id = $1 AND account_id = $2 AND unit = $3"
    static let runColumns = "id, tenant_id, account_id, unit, status, amount, entry_id, detail, created_at, resolved_at"
    static let lockRun = "SELECT \(runColumns) FROM auto_top_up_runs WHERE id = $1 FOR UPDATE"
    /// Serializes the runs of one balance (their caps count what the others moved) without
    /// touching a row the consumers' trigger locks.
    static let lockBalanceRuns = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
    /// Who set the rule a run is for (nil: the rule is gone).
    static let selectSetter = """
        SELECT t.set_by FROM auto_top_up_runs r
        JOIN auto_top_ups t ON t.tenant_id = r.tenant_id AND t.account_id = r.account_id AND t.unit = r.unit
        WHERE r.id = $1
        """
    static let selectMoved = """
        SELECT coalesce(sum(amount) FILTER (WHERE resolved_at >= $4), 0) AS today, coalesce(sum(amount), 0) AS month
        FROM auto_top_up_runs
        WHERE tenant_id = $1 AND account_id = $2 AND unit = $3 AND status = 'applied' AND resolved_at >= $5
        """
    static let resolveRun = """
        UPDATE auto_top_up_runs SET status = $3, amount = $4, entry_id = $5, detail = $6, resolved_at = now()
        WHERE tenant_id = $1 AND id = $2
        """
    static let selectRuns = """
        SELECT \(runColumns) FROM auto_top_up_runs WHERE tenant_id = $1 AND account_id = $2 ORDER BY created_at DESC, id LIMIT $3
        """

    package static func setRule(
        _ connection: PostgresConnection, account: AccountRecord, source: AccountRecord, _ rule: AutoTopUpRule, setBy: UUID
    ) throws -> AutoTopUpRecord {
        try BalanceRuleStore.watch(connection, account: account, unit: rule.unit, true)
        return try decodeRule(
            connection.execute(
                upsertRule,
                [
                    account.tenantID, account.id, rule.unit.rawValue, source.id, rule.below, rule.amount, rule.maxCreditsPerDay,
                    rule.maxCreditsPerMonth, setBy,
                ]
            ).single())
    }

    package static func deleteRule(_ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit) throws -> Bool {
        try BalanceRuleStore.removeRule(connection, deleteRule, account: account, unit: unit)
    }

    package static func rules(_ connection: PostgresConnection, account: AccountRecord) throws -> [AutoTopUpRecord] {
        try connection.execute(selectRules, [account.tenantID, account.id]).rows.map(decodeRule)
    }

    package static func rule(_ connection: PostgresConnection, tenantID: UUID, accountID: UUID, unit: CreditUnit) throws
        -> AutoTopUpRecord?
    {
        try connection.execute(selectRule, [tenantID, accountID, unit.rawValue]).first.map(decodeRule)
    }

    static func decodeRule(_ row: PostgresRow) throws -> AutoTopUpRecord {
        AutoTopUpRecord(
            tenantID: try row.decode(UUID.self, "tenant_id"), accountID: try row.decode(UUID.self, "account_id"),
            sourceAccountID: try row.decode(UUID.self, "source_account_id"),
            rule: AutoTopUpRule(
                unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms, below: try row.decode(Int64.self, "below"),
                amount: try row.decode(Int64.self, "amount"), maxCreditsPerDay: try row.decode(Int64?.self, "max_credits_per_day"),
                maxCreditsPerMonth: try row.decode(Int64?.self, "max_credits_per_month")),
            setBy: try row.decode(UUID.self, "set_by"), armed: try row.decode(Bool.self, "armed"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }

    /// The run, locked, after every other run of its balance has been resolved or waits behind it.
    package static func lockRun(_ connection: PostgresConnection, id: UUID) throws -> TopUpRunRecord? {
        guard let run = try connection.execute(lockRun, [id]).first.map(decodeRun) else { return nil }
        try connection.execute(lockBalanceRuns, ["auto_top_up \(run.accountID.lower) \(run.unit.rawValue)"])
        return run
    }

    /// The user who set the rule run `id` is for, if the rule is still there; reads, locks nothing.
    package static func setter(_ connection: PostgresConnection, runID: UUID) throws -> UUID? {
        try connection.execute(selectSetter, [runID]).first?.decode(UUID.self, "set_by")
    }

    /// Credits the balance's applied runs moved since `dayStart` and since `monthStart`.
    package static func moved(_ connection: PostgresConnection, _ run: TopUpRunRecord, dayStart: Date, monthStart: Date) throws
        -> (today: Int64, thisMonth: Int64)
    {
        let row = try connection.execute(selectMoved, [run.tenantID, run.accountID, run.unit.rawValue, dayStart, monthStart]).single()
        return (try row.decode(Int64.self, "today"), try row.decode(Int64.self, "month"))
    }

    package static func resolve(
        _ connection: PostgresConnection, _ run: TopUpRunRecord, status: String, amount: Int64?, entryID: Int64?, detail: String?
    ) throws {
        try connection.execute(resolveRun, [run.tenantID, run.id, status, amount, entryID, detail.map { String($0.prefix(500)) }])
    }

    package static func runs(_ connection: PostgresConnection, account: AccountRecord, limit: Int) throws -> [TopUpRunRecord] {
        try connection.execute(selectRuns, [account.tenantID, account.id, Int64(limit)]).rows.map(decodeRun)
    }

    static func decodeRun(_ row: PostgresRow) throws -> TopUpRunRecord {
        TopUpRunRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
            status: try row.decode(String.self, "status"), amount: try row.decode(Int64?.self, "amount"),
            entryID: try row.decode(Int64?.self, "entry_id"), detail: try row.decode(String?.self, "detail"),
            createdAt: try row.decode(Date.self, "created_at"), resolvedAt: try row.decode(Date?.self, "resolved_at"))
    }
}
