import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// The audit log page: who changed what in the signed-in account and below, newest first.
extension ConsoleController {
    func audit(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        let query = request.uri.queryParameters
        let action = query["action"].flatMap { AuditAction(rawValue: String($0)) }
        let from = query["from"].map(String.init) ?? "", to = query["to"].map(String.init) ?? ""
        let before = query["before"].flatMap { Int64(String($0)) }
        var data: [String: Any] = [
            "from": from, "to": to,
            "actions": AuditAction.allCases.map { ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == action] },
        ]
        do {
            let filter = AuditFilter(
                action: action, from: try Self.day(from, field: "from"), to: try Self.day(to, field: "to"))
            let rows = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
                try Operations.audit(
                    $0, principal, accountID: principal.accountID, filter: filter, beforeID: before, limit: Self.pageSize + 1)
            }
            let shown = rows.prefix(Self.pageSize)
            data["hasRows"] = !shown.isEmpty
            data["rows"] = shown.map(Self.row)
            if rows.count > Self.pageSize, let last = shown.last {
                data["next"] = nextPageLink(
                    "/console/audit", filters: [("action", action?.rawValue), ("from", from), ("to", to)], before: last.id)
            }
        } catch let error as DomainError {
            data["error"] = pages.catalogue(request, setting: session.language).error(error)
        }
        return try pages.page("audit", session, request, title: "nav_audit", data)
    }

    static func row(_ row: AuditRecord) -> [String: Any] {
        func text(_ value: AuditValue?) -> String {
            switch value {
            case .text(let text): text
            case .number(let number): formatted(number)
            case .flag(let flag): flag ? "✓" : "✗"
            case .list(let list): list.joined(separator: ", ")
            case nil: "—"
            }
        }
        return [
            "seq": row.seq, "time": shortTime(row.occurredAt), "action": row.action, "account": row.accountName,
            "object": "\(row.objectType) \(row.objectID)", "who": row.actorName ?? row.channel.rawValue,
            "via": row.channel.rawValue, "address": row.sourceAddress ?? "",
            "changes": row.changes.map { ["field": $0.field, "before": text($0.before), "after": text($0.after)] },
        ]
    }
}
