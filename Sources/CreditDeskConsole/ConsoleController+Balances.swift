import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

/// A client's low-balance alert and automatic top-up, on its page: what is set, and the forms
/// that set or remove them (the same service calls as the API).
extension ConsoleController {
    /// The rules of an account, as the client page shows them.
    struct BalanceRules {
        let alerts: [BalanceAlertRecord]
        let topUps: [AutoTopUpRecord]
        let runs: [TopUpRunRecord]

        static func load(_ connection: PostgresConnection, _ principal: Principal, account: AccountRecord) throws -> BalanceRules {
            let (topUps, runs) = try BalanceRuleOperations.topUps(connection, principal, accountID: account.id)
            return BalanceRules(
                alerts: try BalanceRuleOperations.alerts(connection, principal, accountID: account.id), topUps: topUps,
                runs: Array(runs.prefix(5)))
        }

        func data(_ catalogue: Catalogue) -> [String: Any] {
            [
                "alerts": alerts.map { alert in
                    [
                        "unit": alert.rule.unit.rawValue.uppercased(),
                        "rule": catalogue.text(
                            "alert_rule_\(alert.rule.measure.rawValue)", ["below": formatted(alert.rule.below)]),
                        "parent": alert.rule.notifyParent, "waiting": !alert.armed,
                    ]
                },
                "topUps": topUps.map { topUp in
                    [
                        "unit": topUp.rule.unit.rawValue.uppercased(),
                        "rule": catalogue.text(
                            "top_up_rule", ["below": formatted(topUp.rule.below), "amount": formatted(topUp.rule.amount)]),
                        "caps": [topUp.rule.maxCreditsPerDay.map { catalogue.text("top_up_per_day", ["max": formatted($0)]) },
                                 topUp.rule.maxCreditsPerMonth.map { catalogue.text("top_up_per_month", ["max": formatted($0)]) }]
                            .compactMap { $0 }.joined(separator: ", "),
                    ]
                },
                "runs": runs.map { run in
                    [
                        "when": shortTime(run.createdAt), "unit": run.unit.rawValue.uppercased(),
                        "status": catalogue.text("top_up_\(run.status)"), "amount": run.amount.map(formatted) ?? "",
                        "detail": run.detail ?? "",
                    ]
                },
                "hasBalanceRules": !alerts.isEmpty || !topUps.isEmpty, "hasRuns": !runs.isEmpty,
            ]
        }
    }

    /// Sets the unit's alert, or with an empty line removes it.
    static func setBalanceAlert(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let unit = try unit(submission)
        guard submission.given("below") != nil else {
            try BalanceRuleOperations.deleteAlert(connection, principal, operation, accountID: submission.id, unit: unit)
            return Done(flash: submission.text("flash_alert_removed", ["unit": unit.rawValue.uppercased()]))
        }
        let measure = submission.field("measure").flatMap(BalanceMeasure.init(rawValue:)) ?? .credits
        let rule = BalanceAlertRule(
            unit: unit, measure: measure, below: try amount(submission, "below"), notifyParent: submission.field("notify_parent") == "yes")
        _ = try BalanceRuleOperations.setAlert(connection, principal, operation, accountID: submission.id, rule: rule)
        return Done(
            flash: submission.text(
                "flash_alert_set",
                ["unit": unit.rawValue.uppercased(), "rule": submission.text("alert_rule_\(measure.rawValue)", ["below": formatted(rule.below)])]))
    }

    /// Sets the unit's automatic top-up, or with an empty line removes it.
    static func setAutoTopUp(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let unit = try unit(submission)
        guard submission.given("below") != nil else {
            try BalanceRuleOperations.deleteTopUp(connection, principal, operation, accountID: submission.id, unit: unit)
            return Done(flash: submission.text("flash_top_up_removed", ["unit": unit.rawValue.uppercased()]))
        }
        let optional = { (field: String) throws -> Int64? in try submission.given(field).map { _ in try amount(submission, field) } }
        let rule = AutoTopUpRule(
            unit: unit, below: try amount(submission, "below"), amount: try amount(submission),
            maxCreditsPerDay: try optional("max_per_day"), maxCreditsPerMonth: try optional("max_per_month"))
        _ = try BalanceRuleOperations.setTopUp(connection, principal, operation, accountID: submission.id, rule: rule)
        return Done(
            flash: submission.text(
                "flash_top_up_set",
                ["unit": unit.rawValue.uppercased(), "rule": submission.text("top_up_rule", ["below": formatted(rule.below), "amount": formatted(rule.amount)])]))
    }
}
