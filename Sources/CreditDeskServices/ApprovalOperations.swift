import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Four-eyes approvals: thresholds, holding a movement above one, and a second admin's
/// decision (docs/ARCHITECTURE.md "Approvals"). Credits are not reserved while a request waits.
package enum ApprovalOperations {
    // MARK: thresholds

    package static func thresholds(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [CreditUnit: Int64]
    {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try ApprovalStore.thresholds(connection, accountID: accountID)
    }

    /// Sets (a number) or removes (nil) thresholds; units not named keep theirs. An admin above
    /// the account sets anything; the account's own admins only tighten (`Approvals.maySet`).
    package static func setThresholds(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        changes: [CreditUnit: Int64?]
    ) throws -> [CreditUnit: Int64] {
        let loaded = try Operations.account(connection, principal, accountID, for: .read)
        guard loaded.kind != .client else {
            throw DomainError.wrongKind("account", "approval thresholds belong to the platform and resellers")
        }
        guard Authorization.roleAllows(principal.role, .manageCredits, accountKind: principal.accountKind) else {
            throw DomainError(.forbidden, "the \(principal.role.rawValue) role may not set approval thresholds")
        }
        let account = try Operations.lockedForAudit(connection, loaded)
        let before = try ApprovalStore.thresholds(connection, accountID: accountID)
        for (unit, threshold) in changes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            if let threshold, !(1...Limits.maxAmount).contains(threshold) {
                throw DomainError.invalid("\(unit.rawValue)_threshold", "must be between 1 and \(Limits.maxAmount)")
            }
            guard Approvals.maySet(ownAccount: account.id == principal.accountID, from: before[unit], to: threshold) else {
                throw DomainError(
                    .forbidden, "only an account above this one may raise or remove its \(unit.rawValue) threshold",
                    details: ["field": .string("\(unit.rawValue)_threshold")])
            }
            try ApprovalStore.setThreshold(connection, account: account, unit: unit, threshold: threshold)
        }
        let after = try ApprovalStore.thresholds(connection, accountID: accountID)
        let fields = { (values: [CreditUnit: Int64]) in
            Dictionary(uniqueKeysWithValues: CreditUnit.allCases.map { ("\($0.rawValue)_threshold", values[$0].map(AuditValue.number)) })
        }
        try AuditStore.appendChanges(
            connection, context, account: account, .approvalThresholdChanged, objectID: accountID.lower,
            before: fields(before), after: fields(after))
        return after
    }

    // MARK: holding

    /// Holds the movement for a second admin when it is above the acting account's threshold:
    /// answers the request, or nil when the movement may go ahead now.
    static func holdIfNeeded(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, kind: ApprovalKind,
        source: AccountRecord?, target: AccountRecord, unit: CreditUnit, amount: Int64, reason: String?
    ) throws -> ApprovalRecord? {
        let threshold = try ApprovalStore.thresholds(connection, accountID: principal.accountID)[unit]
        guard Approvals.holds(amount: amount, threshold: threshold),
            let account = try AccountStore.find(connection, id: principal.accountID)
        else { return nil }
        let request = try ApprovalStore.create(
            connection,
            .init(
                account: account, target: target, sourceAccountID: source?.id, kind: kind, unit: unit, amount: amount,
                reason: reason, requestedBy: principal.userID))
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(
                .approvalRequested, objectID: request.id,
                changes: .created([
                    "kind": .text(kind.rawValue), "unit": .text(unit.rawValue), "amount": .number(amount),
                    "target_account_id": .text(target.id.lower), "reason": reason.map(AuditValue.text),
                ])))
        return request
    }

    // MARK: reading

    /// A request, if `principal` is of its account or above it (else `not_found`).
    package static func request(_ connection: PostgresConnection, _ principal: Principal, id: UUID, lock: Bool = false)
        throws -> (ApprovalRecord, AccountRecord)
    {
        try Operations.owned(
            connection, principal, try ApprovalStore.find(connection, id: id, lock: lock), owner: \.accountID, for: .read,
            what: "approval request")
    }

    package static func requests(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, status: ApprovalStatus?,
        beforePosition: Int64?, limit: Int
    ) throws -> [ApprovalRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try ApprovalStore.requests(
            connection, root: accountID, status: status, beforePosition: beforePosition, limit: limit)
    }
}
