import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Low-balance alerts (set by the account's admins or an ancestor's) and automatic top-ups
/// (set by an account above, from the parent's pool). The crossings are found by the schema;
/// `BalanceJobs` acts on them. See docs/ARCHITECTURE.md, "Low balances".
package enum BalanceRuleOperations {
    package static func alerts(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [BalanceAlertRecord]
    {
        try BalanceRuleStore.alerts(connection, account: try Operations.account(connection, principal, accountID, for: .read))
    }

    package static func setAlert(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        rule: BalanceAlertRule
    ) throws -> BalanceAlertRecord {
        let rule = try rule.validated()
        let account = try Operations.lockedForAudit(
            connection, try Operations.account(connection, principal, accountID, for: .manageMessaging))
        let before = try BalanceRuleStore.alerts(connection, account: account).first { $0.rule.unit == rule.unit }
        let stored = try BalanceRuleStore.setAlert(connection, account: account, rule)
        try AuditStore.appendChanges(
            connection, context, account: account, .balanceAlertChanged, objectID: account.id.lower,
            before: alertFields(before?.rule, unit: rule.unit), after: alertFields(rule, unit: rule.unit))
        return stored
    }

    package static func deleteAlert(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID, unit: CreditUnit
    ) throws {
        let account = try Operations.lockedForAudit(
            connection, try Operations.account(connection, principal, accountID, for: .manageMessaging))
        let before = try BalanceRuleStore.alerts(connection, account: account).first { $0.rule.unit == unit }
        guard try BalanceRuleStore.deleteAlert(connection, account: account, unit: unit) else {
            throw DomainError.notFound("balance alert")
        }
        try AuditStore.appendChanges(
            connection, context, account: account, .balanceAlertChanged, objectID: account.id.lower,
            before: alertFields(before?.rule, unit: unit), after: alertFields(nil, unit: unit))
    }

    package static func topUps(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> ([AutoTopUpRecord], [TopUpRunRecord])
    {
        let account = try Operations.account(connection, principal, accountID, for: .read)
        return (try TopUpStore.rules(connection, account: account), try TopUpStore.runs(connection, account: account, limit: 20))
    }

    /// Sets the client's top-up from its parent's pool; only an account above may (the credits
    /// are the parent's).
    package static func setTopUp(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        rule: AutoTopUpRule
    ) throws -> AutoTopUpRecord {
        let rule = try rule.validated()
        let account = try Operations.lockedForAudit(
            connection, try Operations.account(connection, principal, accountID, for: .manageCredits))
        guard let parentID = account.parentID, let parent = try AccountStore.find(connection, id: parentID) else {
            throw DomainError.wrongKind("account", "the platform has no pool above it")
        }
        try Operations.requireUnitAllowed(account, rule.unit)
        let before = try TopUpStore.rules(connection, account: account).first { $0.rule.unit == rule.unit }
        let stored = try TopUpStore.setRule(connection, account: account, source: parent, rule, setBy: principal.userID)
        try AuditStore.appendChanges(
            connection, context, account: account, .autoTopUpChanged, objectID: account.id.lower,
            before: topUpFields(before?.rule, unit: rule.unit), after: topUpFields(rule, unit: rule.unit))
        return stored
    }

    package static func deleteTopUp(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID, unit: CreditUnit
    ) throws {
        let account = try Operations.lockedForAudit(
            connection, try Operations.account(connection, principal, accountID, for: .manageCredits))
        let before = try TopUpStore.rules(connection, account: account).first { $0.rule.unit == unit }
        guard try TopUpStore.deleteRule(connection, account: account, unit: unit) else {
            throw DomainError.notFound("automatic top-up")
        }
        try AuditStore.appendChanges(
            connection, context, account: account, .autoTopUpChanged, objectID: account.id.lower,
            before: topUpFields(before?.rule, unit: unit), after: topUpFields(nil, unit: unit))
    }

    /// Alerts measured in days left depend on time as well as on updates: evaluated for every
    /// such alert (the notifier does once a minute), each crossing moving the alert's state with
    /// a conditional update, so two daemons evaluating at once alert once. Answers the alerts sent.
    @discardableResult
    package static func checkDaysAlerts(_ connection: PostgresConnection) throws -> Int {
        var alerted = 0
        for alert in try BalanceRuleStore.daysAlerts(connection) {
            let days = DaysLeft.days(available: alert.available, consumedLastWeek: alert.consumedLastWeek)
            let low = days.map { $0 < Double(alert.below) } ?? false
            guard low == alert.armed, try BalanceRuleStore.setArmed(connection, alert, !low) else { continue }
            let detail = days.map { String(format: "%.1f days left at %.1f credits a day", $0, Double(alert.consumedLastWeek) / 7) }
            try BalanceRuleStore.notice(
                connection, tenantID: alert.tenantID, accountID: alert.accountID, unit: alert.unit, kind: low ? "low" : "recovered",
                available: alert.available, threshold: "below \(alert.below) days", notifyParent: alert.notifyParent,
                detail: detail)
            if low { alerted += 1 }
        }
        return alerted
    }

    static func alertFields(_ rule: BalanceAlertRule?, unit: CreditUnit) -> [String: AuditValue?] {
        guard let rule else { return [:] }
        let prefix = unit.rawValue
        return [
            "\(prefix)_measure": .text(rule.measure.rawValue), "\(prefix)_below": .number(rule.below),
            "\(prefix)_notify_parent": .flag(rule.notifyParent),
        ]
    }

    static func topUpFields(_ rule: AutoTopUpRule?, unit: CreditUnit) -> [String: AuditValue?] {
        guard let rule else { return [:] }
        let prefix = unit.rawValue
        return [
            "\(prefix)_below": .number(rule.below), "\(prefix)_amount": .number(rule.amount),
            "\(prefix)_max_credits_per_day": rule.maxCreditsPerDay.map(AuditValue.number),
            "\(prefix)_max_credits_per_month": rule.maxCreditsPerMonth.map(AuditValue.number),
        ]
    }
}
