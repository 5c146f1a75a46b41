import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The usage period parser, and the streamed export (CSV / JSON Lines) for billing staff.
struct UsageController {
    let access: Access

    static func period(from: String?, to: String?, timeZone: String?) throws -> UsagePeriod {
        guard let from = from.flatMap({ $0.isEmpty ? nil : $0 }), let to = to.flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw APIError.badRequest(code: "invalid_parameter", "from and to (YYYY-MM-DD) are required", details: ["field": "from"])
        }
        do {
            return try UsagePeriod(from: from, to: to, timeZone: timeZone.flatMap { $0.isEmpty ? nil : $0 } ?? "UTC")
        } catch {
            // The period comes from the query string: a parameter's mistake, named as such.
            var mapped = ErrorMapping.apiError(error)
            mapped.code = "invalid_parameter"
            throw mapped
        }
    }

    /// The export streams straight to the connection as the database yields rows, so it is a
    /// plain route (the contract describes it); the report itself is `APIHandlers.getUsage`.
    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/accounts/:id/usage/export") { request, context in
            let id = try Parameters.uuid(context, "id")
            let period = try Self.period(
                from: Parameters.query(request, "from"), to: Parameters.query(request, "to"),
                timeZone: Parameters.query(request, "tz"))
            let export = UsageExport(
                root: id, scope: try Parameters.enumValue(request, "scope", UsageScope.self) ?? .account, period: period,
                grouping: try Parameters.enumValue(request, "group", UsageGrouping.self) ?? .day,
                detail: try Parameters.enumValue(request, "detail", UsageExport.Detail.self) ?? .daily,
                format: try Parameters.enumValue(request, "format", ExportFormat.self) ?? .csv)
            // Authorize before the first byte: once streaming starts the status is fixed at 200.
            let principal = try Access.principal().principal
            _ = try await access.pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
                try Operations.account(connection, principal, id, for: .read)
            }
            let pool = access.pool
            return Self.streamed(
                format: export.format, fileName: export.fileName, what: "usage export", logger: context.logger
            ) { write in
                try await export.run(pool: pool) { chunk, _ in try await write(chunk) }
            }
        }
    }

    /// An export's response: its headers, then whatever `produce` writes, as it writes it.
    /// `produce` answers the number of rows, which the log line gets.
    static func streamed(
        format: ExportFormat, fileName: String, what: String, logger: Logger,
        _ produce: @escaping @Sendable (_ write: (String) async throws -> Void) async throws -> Int
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = format.contentType
        headers[.contentDisposition] = "attachment; filename=\"\(fileName)\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                do {
                    let rows = try await produce { chunk in
                        if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                    }
                    logger.info("\(what) finished", metadata: ["export.rows": "\(rows)"])
                    try await writer.finish(nil)
                } catch {
                    // Headers are gone; the only honest signal left is to cut the stream short.
                    logger.warning("\(what) stopped", metadata: ["error": "\(error)"])
                    throw error
                }
            })
    }
}
