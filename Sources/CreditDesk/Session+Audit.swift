import CreditDeskCore
import CreditDeskServices
import Foundation

extension Session {
    /// Streams the audit log of an account and its subtree (CSV or JSON Lines), newest first,
    /// in constant memory: who changed what (accounts, features, users, keys, passwords,
    /// packages, rates, gateways, messaging settings), with each field's before and after.
    /// `action` is an action name such as `account.suspended`; `actor` a user id; `object` an
    /// object id; `from` inclusive, `to` exclusive. Answers the number of rows written.
    public func exportAudit(
        of accountID: UUID, action: String? = nil, actor: UUID? = nil, object: String? = nil, from: Date? = nil,
        to: Date? = nil, jsonLines: Bool = false, write: (String) async throws -> Void
    ) async throws -> Int {
        let filter = AuditFilter(
            action: try action.map { name in
                guard let action = AuditAction(rawValue: name) else {
                    throw CreditDeskError(
                        DomainError.invalid("action", "is one of " + AuditAction.allCases.map(\.rawValue).joined(separator: ", ")))
                }
                return action
            }, actorUserID: actor, objectID: object, from: from, to: to)
        try await read { connection, principal in
            try Operations.authorizeAudit(connection, principal, accountID: accountID, filter: filter)
        }
        let export = AuditExport(root: accountID, filter: filter, format: jsonLines ? .jsonl : .csv)
        return try await Desk.mapping { try await export.run(pool: desk.pool) { try await write($0) } }
    }
}
