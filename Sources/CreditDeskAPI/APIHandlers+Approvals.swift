import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Four-eyes approvals: thresholds, held requests, and their decisions.
extension APIHandlers {
    func getApprovalThresholds(_ input: Endpoints.GetApprovalThresholds.Input) async throws
        -> Endpoints.GetApprovalThresholds.Output
    {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.ApprovalThresholds(
                accountID: id, try ApprovalOperations.thresholds(connection, principal, accountID: id))
        })))
    }

    func setApprovalThresholds(_ input: Endpoints.SetApprovalThresholds.Input) async throws
        -> Endpoints.SetApprovalThresholds.Output
    {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let changes: [CreditUnit: Int64?] = [.sms: body.smsThreshold, .mms: body.mmsThreshold]
        let (answer, replayed) = try await access.mutate(Components.Schemas.ApprovalThresholds.self, input: body) {
            connection, principal, operation in
            Components.Schemas.ApprovalThresholds(
                accountID: id,
                try ApprovalOperations.setThresholds(connection, principal, operation, accountID: id, changes: changes))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(answer)))
    }

    func listApprovals(_ input: Endpoints.ListApprovals.Input) async throws -> Endpoints.ListApprovals.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let status: ApprovalStatus? = try input.query.status.converted()
        let before = try Cursor.decodeKey(input.query.cursor) { Int64($0) }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try ApprovalOperations.requests(
                connection, principal, accountID: id, status: status, beforePosition: before, limit: limit + 1)
            return Components.Schemas.ApprovalPage(
                rows: rows, limit: limit, item: Components.Schemas.ApprovalRequest.init, cursor: { [String($0.position)] })
        })))
    }

    func getApproval(_ input: Endpoints.GetApproval.Input) async throws -> Endpoints.GetApproval.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.ApprovalRequest(try ApprovalOperations.request(connection, principal, id: id).0)
        })))
    }

    func approveApproval(_ input: Endpoints.ApproveApproval.Input) async throws -> Endpoints.ApproveApproval.Output {
        let id = input.path.id.uuid
        let (answer, replayed) = try await access.mutate(Components.Schemas.ApprovalRequest.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.ApprovalRequest(try ApprovalOperations.approve(connection, principal, operation, id: id).0)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(answer)))
    }

    func rejectApproval(_ input: Endpoints.RejectApproval.Input) async throws -> Endpoints.RejectApproval.Output {
        let id = input.path.id.uuid
        let (answer, replayed) = try await access.mutate(Components.Schemas.ApprovalRequest.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.ApprovalRequest(try ApprovalOperations.reject(connection, principal, operation, id: id))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(answer)))
    }
}

extension Components.Schemas.ApprovalPage: ContractPage {}

extension Components.Schemas.ApprovalRequest {
    init(_ request: ApprovalRecord) {
        self.init(
            id: request.id.objectID, accountId: request.accountID.objectID, kind: request.kind.sameCase(),
            targetAccountId: request.targetAccountID.objectID, sourceAccountId: request.sourceAccountID?.objectID,
            unit: request.unit.sameCase(), amount: request.amount, reason: request.reason, status: request.status.sameCase(),
            requestedBy: request.requestedBy.objectID, requestedAt: request.requestedAt, expiresAt: request.expiresAt,
            decidedBy: request.decidedBy?.objectID, decidedAt: request.decidedAt, entryId: request.entryID)
    }
}

extension Components.Schemas.ApprovalThresholds {
    init(accountID: UUID, _ thresholds: [CreditUnit: Int64]) {
        self.init(accountId: accountID.objectID, smsThreshold: thresholds[.sms], mmsThreshold: thresholds[.mms])
    }
}

/// A manual movement's answer as the idempotency record keeps it: the entry (200) or the
/// request holding it (202).
struct MovementAnswer: Codable, Sendable {
    let entry: Components.Schemas.Entry?
    let approval: Components.Schemas.ApprovalRequest?

    init(_ outcome: CreditOutcome) {
        switch outcome {
        case .applied(let entry): (self.entry, approval) = (.init(entry), nil)
        case .held(let request): (entry, approval) = (nil, .init(request))
        }
    }
}

extension Optional {
    /// The value a stored answer always has (an answer without it would be a bug, not a
    /// client's mistake: the internal error, never a guess).
    func unwrapped() throws -> Wrapped {
        guard let value = self else { throw APIError(.internalServerError, code: "internal", message: "an answer lacks its body") }
        return value
    }
}
