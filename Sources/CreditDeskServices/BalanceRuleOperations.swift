import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Low-balance alerts (set by the account's admins or an ancestor's) and automatic top-ups
/// (set by an account above, from the parent's pool). The crossings are found by the schema;
/// the dispatcher's jobs (`MessageDispatcher+Balances`) act on them. See docs/ARCHITECTURE.md,
/// "Low balances".
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
        return try change(connection, principal, context, .alert, accountID: accountID, unit: rule.unit) { account in
            (rule, try BalanceRuleStore.setAlert(connection, account: account, rule))
        }
    }

    package static func deleteAlert(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID, unit: CreditUnit
    ) throws {
        try change(connection, principal, context, .alert, accountID: accountID, unit: unit) { account in
            guard try BalanceRuleStore.deleteAlert(connection, account: account, unit: unit) else {
                throw DomainError.notFound("balance alert")
            }
            return (nil, ())
        }
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
        return try change(connection, principal, context, .topUp, accountID: accountID, unit: rule.unit) { account in
            guard let parentID = account.parentID, let parent = try AccountStore.find(connection, id: parentID) else {
                throw DomainError.wrongKind("account", "the platform has no pool above it")
            }
            try Operations.requireUnitAllowed(account, rule.unit)
            return (rule, try TopUpStore.setRule(connection, account: account, source: parent, rule, setBy: principal.userID))
        }
    }

    package static func deleteTopUp(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID, unit: CreditUnit
    ) throws {
        try change(connection, principal, context, .topUp, accountID: accountID, unit: unit) { account in
            guard try TopUpStore.deleteRule(connection, account: account, unit: unit) else {
                throw DomainError.notFound("automatic top-up")
            }
            return (nil, ())
        }
    }

    /// What differs between the two kinds of rule: who may change them, how a unit's rule is
    /// read, and its fields in the audit log.
    struct RuleKind<Rule>: Sendable {
        let action: Action
        let audit: AuditAction
        let current: @Sendable (PostgresConnection, AccountRecord, CreditUnit) throws -> Rule?
        let fields: @Sendable (Rule?, CreditUnit) -> [String: AuditValue?]
    }

    /// A change of the unit's rule: the account authorized and its tenant's audit counter
    /// locked (before the balance the store then locks), the rule before read, `work` run (it
    /// answers the rule after it, nil when removed, and the result), the difference audited.
    static func change<Rule, Result>(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, _ kind: RuleKind<Rule>,
        accountID: UUID, unit: CreditUnit, _ work: (AccountRecord) throws -> (Rule?, Result)
    ) throws -> Result {
        let account = try Operations.lockedForAudit(connection, try Operations.account(connection, principal, accountID, for: kind.action))
        let before = try kind.current(connection, account, unit)
        let (after, result) = try work(account)
        try AuditStore.appendChanges(
            connection, context, account: account, kind.audit, objectID: account.id.lower, before: kind.fields(before, unit),
            after: kind.fields(after, unit))
        return result
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
                available: alert.available, threshold: BalanceMeasure.days.threshold(below: alert.below), notifyParent: alert.notifyParent,
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

extension BalanceRuleOperations.RuleKind<BalanceAlertRule> {
    /// Alerts: the account's admins or those of an account above.
    static let alert = Self(
        action: .manageMessaging, audit: .balanceAlertChanged,
        current: { connection, account, unit in
            try BalanceRuleStore.alerts(connection, account: account).first { $0.rule.unit == unit }?.rule
        },
        fields: BalanceRuleOperations.alertFields)
}

extension BalanceRuleOperations.RuleKind<AutoTopUpRule> {
    /// Top-ups: an account above only (the credits are its own).
    static let topUp = Self(
        action: .manageCredits, audit: .autoTopUpChanged,
        current: { connection, account, unit in
            try TopUpStore.rules(connection, account: account).first { $0.rule.unit == unit }?.rule
        },
        fields: BalanceRuleOperations.topUpFields)
}
