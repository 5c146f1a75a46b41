import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Low-balance alerts and automatic top-ups of an account.
extension APIHandlers {
    func listBalanceAlerts(_ input: Endpoints.ListBalanceAlerts.Input) async throws -> Endpoints.ListBalanceAlerts.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            .init(items: try BalanceRuleOperations.alerts(connection, principal, accountID: id).map { .init($0) })
        })))
    }

    func setBalanceAlert(_ input: Endpoints.SetBalanceAlert.Input) async throws -> Endpoints.SetBalanceAlert.Output {
        let id = input.path.id.uuid
        let unit: CreditUnit = try input.path.unit.converted()
        let body = switch input.body { case .json(let body): body }
        let rule = BalanceAlertRule(
            unit: unit, measure: try body.measure.converted() ?? .credits, below: body.below, notifyParent: body.notifyParent ?? false)
        let (alert, replayed) = try await access.mutate(Components.Schemas.BalanceAlert.self, input: body) {
            connection, principal, operation in
            .init(try BalanceRuleOperations.setAlert(connection, principal, operation, accountID: id, rule: rule))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(alert)))
    }

    func deleteBalanceAlert(_ input: Endpoints.DeleteBalanceAlert.Input) async throws -> Endpoints.DeleteBalanceAlert.Output {
        let id = input.path.id.uuid
        let unit: CreditUnit = try input.path.unit.converted()
        let (list, replayed) = try await access.mutate(Components.Schemas.BalanceAlertList.self, input: Optional<String>.none) {
            connection, principal, operation in
            try BalanceRuleOperations.deleteAlert(connection, principal, operation, accountID: id, unit: unit)
            return .init(items: try BalanceRuleOperations.alerts(connection, principal, accountID: id).map { .init($0) })
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(list)))
    }

    func listAutoTopUps(_ input: Endpoints.ListAutoTopUps.Input) async throws -> Endpoints.ListAutoTopUps.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.AutoTopUpList(try BalanceRuleOperations.topUps(connection, principal, accountID: id))
        })))
    }

    func setAutoTopUp(_ input: Endpoints.SetAutoTopUp.Input) async throws -> Endpoints.SetAutoTopUp.Output {
        let id = input.path.id.uuid
        let unit: CreditUnit = try input.path.unit.converted()
        let body = switch input.body { case .json(let body): body }
        let rule = AutoTopUpRule(
            unit: unit, below: body.below, amount: body.amount, maxCreditsPerDay: body.maxCreditsPerDay,
            maxCreditsPerMonth: body.maxCreditsPerMonth)
        let (topUp, replayed) = try await access.mutate(Components.Schemas.AutoTopUp.self, input: body) {
            connection, principal, operation in
            .init(try BalanceRuleOperations.setTopUp(connection, principal, operation, accountID: id, rule: rule))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(topUp)))
    }

    func deleteAutoTopUp(_ input: Endpoints.DeleteAutoTopUp.Input) async throws -> Endpoints.DeleteAutoTopUp.Output {
        let id = input.path.id.uuid
        let unit: CreditUnit = try input.path.unit.converted()
        let (list, replayed) = try await access.mutate(Components.Schemas.AutoTopUpList.self, input: Optional<String>.none) {
            connection, principal, operation in
            try BalanceRuleOperations.deleteTopUp(connection, principal, operation, accountID: id, unit: unit)
            return Components.Schemas.AutoTopUpList(try BalanceRuleOperations.topUps(connection, principal, accountID: id))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(list)))
    }
}

extension Components.Schemas.BalanceAlert {
    init(_ alert: BalanceAlertRecord) {
        self.init(
            accountId: alert.accountID.objectID, unit: alert.rule.unit.sameCase(), measure: alert.rule.measure.sameCase(),
            below: alert.rule.below, notifyParent: alert.rule.notifyParent, armed: alert.armed, alertedAt: alert.alertedAt,
            updatedAt: alert.updatedAt)
    }
}

extension Components.Schemas.AutoTopUp {
    init(_ topUp: AutoTopUpRecord) {
        self.init(
            accountId: topUp.accountID.objectID, unit: topUp.rule.unit.sameCase(), sourceAccountId: topUp.sourceAccountID.objectID,
            below: topUp.rule.below, amount: topUp.rule.amount, maxCreditsPerDay: topUp.rule.maxCreditsPerDay,
            maxCreditsPerMonth: topUp.rule.maxCreditsPerMonth, setBy: topUp.setBy.objectID, armed: topUp.armed,
            updatedAt: topUp.updatedAt)
    }
}

extension Components.Schemas.AutoTopUpList {
    init(_ listed: ([AutoTopUpRecord], [TopUpRunRecord])) {
        self.init(
            items: listed.0.map { .init($0) },
            runs: listed.1.map { run in
                .init(
                    id: run.id.objectID, unit: run.unit.sameCase(),
                    status: Components.Schemas.TopUpRun.StatusPayload(rawValue: run.status) ?? .pending, amount: run.amount,
                    entryId: run.entryID, detail: run.detail, createdAt: run.createdAt, resolvedAt: run.resolvedAt)
            })
    }
}
