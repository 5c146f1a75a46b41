import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// The audit log: a page of it, and (a plain route) its streamed export.
extension APIHandlers {
    func listAudit(_ input: Endpoints.ListAudit.Input) async throws -> Endpoints.ListAudit.Output {
        let id = input.path.id.uuid
        let query = input.query
        let limit = try Parameters.limit(query.limit)
        let before = try Cursor.decodeKey(query.cursor) { Int64($0) }
        let filter = AuditFilter(
            action: try query.action.converted(), actorUserID: query.actor?.uuid, objectID: query.object,
            from: query.from, to: query.to)
        try Parameters.checked(filter)
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try Operations.audit(
                connection, principal, accountID: id, filter: filter, beforeID: before, limit: limit + 1)
            return Components.Schemas.AuditPage(
                rows: rows, limit: limit, item: Components.Schemas.AuditEvent.init, cursor: { [String($0.id)] })
        })))
    }
}

extension Components.Schemas.AuditPage: ContractPage {}

extension Components.Schemas.AuditEvent {
    init(_ row: AuditRecord) {
        self.init(
            id: row.id, tenantId: row.tenantID.objectID, seq: row.seq, occurredAt: row.occurredAt,
            accountId: row.accountID.objectID,
            action: row.action,
            objectType: row.objectType, objectId: row.objectID, actorUserId: row.actorUserID?.objectID,
            actorKeyId: row.actorKeyID?.objectID, actorSessionId: row.actorSessionID?.objectID,
            channel: row.channel.sameCase(), sourceAddress: row.sourceAddress, requestId: row.requestID,
            changes: row.changes.map { change in
                .init(field: change.field, before: change.before.map(Self.value), after: change.after.map(Self.value))
            })
    }

    static func value(_ value: AuditValue) -> Components.Schemas.AuditValue {
        switch value {
        case .text(let text): .case1(text)
        case .number(let number): .case2(number)
        case .flag(let flag): .case3(flag)
        case .list(let list): .case4(list)
        }
    }
}

/// `GET /v1/accounts/{id}/audit/export`: streamed as the batches come, like the usage export.
struct AuditExportRoute {
    let access: Access

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/accounts/:id/audit/export") { request, context in
            let id = try Parameters.uuid(context, "id")
            let filter = AuditFilter(
                action: try Parameters.enumValue(request, "action", AuditAction.self),
                actorUserID: try Parameters.uuidQuery(request, "actor"), objectID: Parameters.typed(request, "object"),
                from: try Parameters.timestamp(request, "from"), to: try Parameters.timestamp(request, "to"))
            try Parameters.checked(filter)
            let export = AuditExport(
                root: id, filter: filter, format: try Parameters.enumValue(request, "format", ExportFormat.self) ?? .csv)
            // Authorize before the first byte: once streaming starts the status is fixed at 200.
            let principal = try Access.principal().principal
            try await access.pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
                try Operations.authorizeAudit(connection, principal, accountID: id, filter: filter)
            }
            let pool = access.pool
            return UsageController.streamed(
                format: export.format, fileName: export.fileName, what: "audit export", logger: context.logger
            ) { write in
                try await export.run(pool: pool) { try await write($0) }
            }
        }
    }
}

extension Parameters {
    /// The filter's own rules, answered as a parameter's mistake before any query runs.
    static func checked(_ filter: AuditFilter) throws {
        do {
            try filter.validate()
        } catch {
            var mapped = ErrorMapping.apiError(error)
            mapped.code = "invalid_parameter"
            throw mapped
        }
    }

    /// An RFC 3339 timestamp in the query; absent is nil, anything else a 400 naming it.
    static func timestamp(_ request: Request, _ name: String) throws -> Date? {
        guard let text = typed(request, name) else { return nil }
        guard let date = ISO8601.parse(text) else {
            throw APIError.badRequest(
                code: "invalid_parameter", "\(name) must be an RFC 3339 timestamp", details: ["field": .string(name)])
        }
        return date
    }

    /// A UUID in the query; absent is nil, anything else a 400 naming it.
    static func uuidQuery(_ request: Request, _ name: String) throws -> UUID? {
        guard let text = typed(request, name) else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw APIError.badRequest(code: "invalid_parameter", "\(name) must be a UUID", details: ["field": .string(name)])
        }
        return id
    }
}
