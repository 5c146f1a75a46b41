import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// A second admin's decision on a held request.
extension ApprovalOperations {
    /// Applies the held movement exactly once, as its requester would have (from the same
    /// pool, under the same rights), and records who approved it. Refused for the requester,
    /// for a request no longer pending or past its expiry. A movement that no longer fits the
    /// balance fails with `insufficient_credits` and the request stays pending.
    package static func approve(_ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, id: UUID)
        throws -> (ApprovalRecord, EntryRecord)
    {
        let request = try lockedForDecision(connection, principal, id: id)
        guard principal.userID != request.requestedBy else {
            throw DomainError(.forbidden, "a request needs a second admin: its requester cannot approve it")
        }
        let requester = try requesterPrincipal(connection, request)
        let entry: EntryRecord
        switch request.kind {
        case .adjust:
            entry = try Operations.applyAdjustment(
                connection, requester, context, accountID: request.targetAccountID, unit: request.unit,
                delta: request.amount, reason: request.reason)
        case .transfer:
            entry = try Operations.applyTransfer(
                connection, requester, context, fromID: request.sourceAccountID ?? request.accountID,
                toID: request.targetAccountID, unit: request.unit, amount: request.amount, reason: request.reason)
        }
        return (try decide(connection, context, request, .approved, by: principal, entryID: entry.id), entry)
    }

    /// Rejects a pending request: nothing moves. Its requester may withdraw it this way too.
    package static func reject(_ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, id: UUID)
        throws -> ApprovalRecord
    {
        let request = try lockedForDecision(connection, principal, id: id)
        return try decide(connection, context, request, .rejected, by: principal, entryID: nil)
    }

    /// The request, locked, once the decider may decide it: an admin (or operator) of its
    /// account or above; still pending and not expired. The tenant's audit lock comes first,
    /// before the request and any balance, in the order every audited change takes them.
    static func lockedForDecision(_ connection: PostgresConnection, _ principal: Principal, id: UUID) throws
        -> ApprovalRecord
    {
        let account = try request(connection, principal, id: id).1
        guard Authorization.roleAllows(principal.role, .manageCredits, accountKind: principal.accountKind) else {
            throw DomainError(.forbidden, "the \(principal.role.rawValue) role may not decide approval requests")
        }
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let request = try request(connection, principal, id: id, lock: true).0
        switch request.status {
        case .pending: return request
        case .expired:
            throw DomainError(.conflict, "the request expired on \(ISO8601.format(request.expiresAt)); make a new one")
        case .approved, .rejected:
            throw DomainError(.conflict, "the request was already \(request.status.rawValue)")
        }
    }

    static func decide(
        _ connection: PostgresConnection, _ context: OperationContext, _ request: ApprovalRecord, _ status: ApprovalStatus,
        by principal: Principal, entryID: Int64?
    ) throws -> ApprovalRecord {
        guard let decided = try ApprovalStore.decide(connection, id: request.id, status: status, by: principal.userID, entryID: entryID),
            let account = try AccountStore.find(connection, id: request.accountID)
        else { throw DomainError(.conflict, "the request was decided meanwhile") }
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(
                status == .approved ? .approvalApproved : .approvalRejected, objectID: request.id,
                changes: [
                    .init(field: "status", before: .text(ApprovalStatus.pending.rawValue), after: .text(status.rawValue)),
                    .init(field: "entry_id", before: nil, after: entryID.map(AuditValue.number)),
                ].filter { $0.before != $0.after }))
        return decided
    }

    /// The requester as a principal: the movement is made from its pool, with its rights now.
    static func requesterPrincipal(_ connection: PostgresConnection, _ request: ApprovalRecord) throws -> Principal {
        guard let user = try UserStore.findUser(connection, id: request.requestedBy),
            let account = try AccountStore.find(connection, id: user.accountID)
        else { throw DomainError(.conflict, "the requester no longer exists") }
        return Principal(
            userID: user.id, accountID: account.id, tenantID: account.tenantID, role: user.role, accountKind: account.kind)
    }
}
