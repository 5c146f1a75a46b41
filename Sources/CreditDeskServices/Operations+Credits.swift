import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// What a manual credit movement came to: applied now, or held for a second admin.
package enum CreditOutcome: Sendable {
    case applied(EntryRecord)
    case held(ApprovalRecord)
}

/// Manual credit movements (adjustments, transfers and grants) and credit limits.
extension Operations {
    /// Manual add (positive) or remove (negative), with a mandatory reason. The counterparty is
    /// the acting account's own pool (issuance for the platform): who gives credits pays for
    /// them, and removed credits go back where they would have come from. Above the acting
    /// account's approval threshold it is held for a second admin instead (`CreditOutcome.held`).
    package static func adjust(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, delta: Int64, reason: String?
    ) throws -> CreditOutcome {
        let (target, delta, reason) = try prepareAdjustment(
            connection, principal, accountID: accountID, unit: unit, delta: delta, reason: reason)
        if let held = try ApprovalOperations.holdIfNeeded(
            connection, principal, context, kind: .adjust, source: nil, target: target, unit: unit, amount: delta,
            reason: reason)
        {
            return .held(held)
        }
        return .applied(try moveAdjustment(connection, principal, context, target: target, unit: unit, delta: delta, reason: reason))
    }

    /// `adjust` without the approval threshold: what an approved request applies, and what the
    /// ledger's own tests drive.
    package static func applyAdjustment(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, delta: Int64, reason: String?
    ) throws -> EntryRecord {
        let (target, delta, reason) = try prepareAdjustment(
            connection, principal, accountID: accountID, unit: unit, delta: delta, reason: reason)
        return try moveAdjustment(connection, principal, context, target: target, unit: unit, delta: delta, reason: reason)
    }

    /// The adjusted account, once `principal` may change its credits, and the checked change and reason.
    static func prepareAdjustment(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, unit: CreditUnit, delta: Int64,
        reason: String?
    ) throws -> (AccountRecord, Int64, String?) {
        let target = try account(connection, principal, accountID, for: .manageCredits)
        let (delta, reason) = (try Validate.delta(delta), try Validate.reason(reason, required: true))
        if delta > 0 { try requireUnitAllowed(target, unit) }
        return (target, delta, reason)
    }

    static func moveAdjustment(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, target: AccountRecord,
        unit: CreditUnit, delta: Int64, reason: String?
    ) throws -> EntryRecord {
        let actorPool = try pool(of: principal, connection)
        if delta > 0 {
            return try LedgerStore.move(
                connection, context, kind: .adjust, unit: unit, amount: delta, from: actorPool, to: .customer(target),
                reason: reason)
        }
        return try LedgerStore.move(
            connection, context, kind: .adjust, unit: unit, amount: -delta, from: .customer(target), to: actorPool,
            reason: reason)
    }

    /// Moves credits from an account's pool to one of its direct children; above the acting
    /// account's approval threshold it is held for a second admin instead.
    package static func transfer(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, fromID: UUID, toID: UUID,
        unit: CreditUnit, amount: Int64, reason: String?
    ) throws -> CreditOutcome {
        let (source, destination, amount, reason) = try prepareTransfer(
            connection, principal, fromID: fromID, toID: toID, unit: unit, amount: amount, reason: reason)
        if let held = try ApprovalOperations.holdIfNeeded(
            connection, principal, context, kind: .transfer, source: source, target: destination, unit: unit,
            amount: amount, reason: reason)
        {
            return .held(held)
        }
        return .applied(try moveTransfer(connection, context, source, destination, unit, amount, reason))
    }

    /// `transfer` without the approval threshold (see `applyAdjustment`).
    package static func applyTransfer(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, fromID: UUID, toID: UUID,
        unit: CreditUnit, amount: Int64, reason: String?
    ) throws -> EntryRecord {
        let (source, destination, amount, reason) = try prepareTransfer(
            connection, principal, fromID: fromID, toID: toID, unit: unit, amount: amount, reason: reason)
        return try moveTransfer(connection, context, source, destination, unit, amount, reason)
    }

    static func prepareTransfer(
        _ connection: PostgresConnection, _ principal: Principal, fromID: UUID, toID: UUID, unit: CreditUnit,
        amount: Int64, reason: String?
    ) throws -> (AccountRecord, AccountRecord, Int64, String?) {
        let source = try account(connection, principal, fromID, for: .read)
        let destination = try account(connection, principal, toID, for: .manageCredits)
        guard destination.parentID == source.id else {
            throw DomainError.invalid("to_account_id", "credits move only from an account to one of its direct children")
        }
        let amount = try Validate.amount(amount)
        try requireUnitAllowed(destination, unit)
        return (source, destination, amount, try Validate.reason(reason, required: false))
    }

    static func moveTransfer(
        _ connection: PostgresConnection, _ context: OperationContext, _ source: AccountRecord,
        _ destination: AccountRecord, _ unit: CreditUnit, _ amount: Int64, _ reason: String?
    ) throws -> EntryRecord {
        try LedgerStore.move(
            connection, context, kind: source.kind == .platform ? .grant : .transfer, unit: unit, amount: amount,
            from: pool(of: source), to: .customer(destination), reason: reason)
    }

    package static func setCreditLimit(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, limit: Int64
    ) throws -> Balance {
        let target = try account(connection, principal, accountID, for: .manageCredits)
        guard (0...Limits.maxCreditLimit).contains(limit) else {
            throw DomainError.invalid("credit_limit", "must be between 0 and \(Limits.maxCreditLimit)")
        }
        if limit > 0 { try requireUnitAllowed(target, unit) }
        // The audit lock before the balance's (the order every audited change keeps).
        try AuditStore.lock(connection, tenantID: target.tenantID)
        let before = try LedgerStore.balances(connection, account: target).first { $0.unit == unit }?.creditLimit ?? 0
        let balance = try LedgerStore.setCreditLimit(connection, account: target, unit: unit, limit: limit)
        let field = "\(unit.rawValue)_credit_limit"
        try AuditStore.appendChanges(
            connection, context, account: target, .creditLimitChanged, objectID: accountID.lower,
            before: [field: .number(before)], after: [field: .number(balance.creditLimit)])
        return balance
    }
}
