import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import NIOCore

/// Billing's page: a period's usage, a chart of daily consumption, the reconciling totals, and
/// the downloads, which stream as the API's export does.
extension ConsoleController {
    struct UsageQuery {
        let from: String, to: String, tz: String
        let scope: UsageScope

        init(_ request: Request, _ session: ConsoleSession) {
            let query = request.uri.queryParameters
            // This month (UTC), as the dashboard counts it.
            let month = OverviewStore.monthStart(of: Date())
            let next = OverviewStore.monthStart(of: month.addingTimeInterval(32 * 86_400))
            from = query["from"].map(String.init) ?? String(ISO8601.format(month).prefix(10))
            to = query["to"].map(String.init) ?? String(ISO8601.format(next).prefix(10))
            tz = query["tz"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? "UTC"
            let fallback: UsageScope = session.principal.accountKind == .client ? .account : .descendants
            scope = query["scope"].flatMap { UsageScope(rawValue: String($0)) } ?? fallback
        }

        var encoded: String {
            [("from", from), ("to", to), ("tz", tz), ("scope", scope.rawValue)]
                .map { "\($0.0)=\(queryEscaped($0.1))" }
                .joined(separator: "&")
        }
    }

    func usage(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let query = UsageQuery(request, session)
        let catalogue = pages.catalogue(request, setting: session.language)
        var data: [String: Any] = [
            "from": query.from, "to": query.to, "tz": query.tz,
            "scopes": [(UsageScope.account, "scope_account"), (.children, "scope_children"), (.descendants, "scope_descendants")]
                .map { ["value": $0.0.rawValue, "label": catalogue.text($0.1), "selected": $0.0 == query.scope] as [String: Any] },
        ]
        do {
            let period = try UsagePeriod(from: query.from, to: query.to, timeZone: query.tz)
            let principal = session.principal
            let report = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
                try Operations.usageReport(
                    connection, principal, accountID: principal.accountID, scope: query.scope, period: period,
                    grouping: .day)
            }
            data["report"] = [
                "chart": UsageChart.svg(report.rows), "query": query.encoded,
                "totals": report.totals.map(Self.totalData),
            ] as [String: Any]
        } catch let error as DomainError {
            data["error"] = catalogue.error(error)
        }
        return try pages.page("usage", session, request, title: "nav_usage", data)
    }

    /// The export, streamed straight from the database (constant memory), as the API's.
    func usageExport(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let query = UsageQuery(request, session)
        let parameters = request.uri.queryParameters
        let format: ExportFormat = parameters["format"] == "jsonl" ? .jsonl : .csv
        let detail: UsageExport.Detail = parameters["detail"] == "entries" ? .entries : .daily
        let period = try UsagePeriod(from: query.from, to: query.to, timeZone: query.tz)
        let principal = session.principal
        _ = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            try Operations.account($0, principal, principal.accountID, for: .read)
        }
        let export = UsageExport(
            root: principal.accountID, scope: query.scope, period: period, grouping: .day, detail: detail, format: format)
        let pool = self.pool
        var headers = Pages.securityHeaders
        headers[.contentType] = export.format.contentType
        headers[.contentDisposition] = "attachment; filename=\"\(export.fileName)\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                _ = try await export.run(pool: pool) { chunk, _ in
                    if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                }
                try await writer.finish(nil)
            })
    }

    static func totalData(_ row: UsageRow) -> [String: Any] {
        [
            "unit": row.unit.rawValue.uppercased(), "opening": formatted(row.opening),
            "granted": formatted(row.flows.granted), "sold": formatted(row.flows.sold),
            "refunded": formatted(row.flows.refunded), "sent": formatted(row.flows.sent),
            "received": formatted(row.flows.received), "expired": formatted(row.flows.expired),
            "removed": formatted(row.flows.removed), "transferredOut": formatted(row.flows.transferredOut),
            "closing": formatted(row.closing),
        ]
    }
}

/// A bar chart of daily consumption per unit, as inline SVG drawn on the server.
enum UsageChart {
    static func svg(_ rows: [UsageRow]) -> String {
        var days = [String: (sms: Int64, mms: Int64)]()
        for row in rows {
            var day = days[row.bucket] ?? (0, 0)
            if row.unit == .sms { day.sms += row.flows.consumed } else { day.mms += row.flows.consumed }
            days[row.bucket] = day
        }
        let ordered = days.sorted { $0.key < $1.key }
        let (width, height, base) = (720.0, 180.0, 160.0)
        let peak = Double(max(1, ordered.map { max($0.value.sms, $0.value.mms) }.max() ?? 1))
        let slot = width / Double(max(ordered.count, 1))
        var parts = [
            "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Credits consumed per day\">",
            "<text x=\"0\" y=\"12\">\(formatted(Int64(peak)))</text>",
        ]
        for (index, (day, used)) in ordered.enumerated() {
            let x = Double(index) * slot
            let bar = max(slot / 2 - 1, 1)
            for (offset, value, unit) in [(0.0, used.sms, "sms"), (bar, used.mms, "mms")] {
                let barHeight = (base - 20) * Double(value) / peak
                parts.append(
                    "<rect class=\"\(unit)\" x=\(quoted(x + offset)) y=\(quoted(base - barHeight)) width=\(quoted(bar)) height=\(quoted(barHeight))><title>\(day) \(unit.uppercased()): \(formatted(value))</title></rect>")
            }
            if ordered.count <= 31, index % max(1, ordered.count / 8) == 0 {
                parts.append("<text x=\(quoted(x)) y=\"176\">\(day.suffix(5))</text>")
            }
        }
        parts.append("</svg>")
        return parts.joined()
    }

    static func quoted(_ value: Double) -> String { "\"\(String(format: "%.1f", value))\"" }
}
