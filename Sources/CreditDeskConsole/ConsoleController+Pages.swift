import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// The pages: dashboard, clients list, a client.
extension ConsoleController {
    /// Below this many SMS credits a client is "running low" on the dashboard.
    static var lowThreshold: Int64 { 100 }
    static var pageSize: Int { 50 }

    func dashboard(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        let (account, balances, usage, low, caps) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            connection in
            let (account, balances, usage) = try Operations.dashboard(connection, principal, accountID: principal.accountID)
            let low =
                account.kind == .reseller
                ? try Operations.clientsOverview(
                    connection, principal, resellerID: account.id, search: nil, sort: .smsAvailable, descending: false,
                    after: nil, limit: 10
                ).map(\.0).filter { $0.smsAvailable < Self.lowThreshold } : []
            let caps = account.kind == .client ? try CapOperations.caps(connection, principal, accountID: account.id) : (nil, [])
            return (account, balances, usage, low, caps)
        }
        let catalogue = pages.catalogue(request, setting: session.language)
        let data: [String: Any] = [
            "accountName": account.name, "smsUsed": formatted(usage.smsUsed), "mmsUsed": formatted(usage.mmsUsed),
            "balances": Self.smsFirst(balances).map(Self.balanceData), "showsClients": account.kind == .reseller,
            "clients": formatted(usage.clients), "low": low.map(Self.rowData), "hasLow": !low.isEmpty,
            "lowEmpty": catalogue.text("none_low", ["threshold": formatted(Self.lowThreshold)]),
            "canSend": account.kind == .client
                && Authorization.roleAllows(principal.role, .consumeCredits, accountKind: principal.accountKind),
        ].merging(Self.capsData(caps, catalogue)) { first, _ in first }
        return try pages.page("dashboard", session, request, title: "nav_dashboard", data)
    }

    func clients(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        let query = request.uri.queryParameters
        let search = query["search"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let sort = query["sort"].flatMap { OverviewSort(rawValue: String($0)) } ?? .name
        let descending = query["order"] == "desc"
        let cursor = query["after"].flatMap { CursorCoding.decode(String($0), count: 2) }.flatMap { parts in
            UUID(uuidString: parts[1]).map { OverviewCursor(sortValue: parts[0], id: $0) }
        }
        let rows = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            try Operations.clientsOverview(
                connection, principal, resellerID: principal.accountID, search: search.map { String($0.prefix(Limits.maxNameLength)) },
                sort: sort, descending: descending, after: cursor, limit: Self.pageSize + 1)
        }
        let shown = rows.prefix(Self.pageSize)
        let base = "/console/clients?" + (search.map { "search=\(queryEscaped($0))&" } ?? "")
        let next = rows.count > Self.pageSize ? shown.last.map {
            base + "sort=\(sort.rawValue)&order=\(descending ? "desc" : "asc")&after=\(CursorCoding.encode([$0.sortValue, $0.0.id.lower]))"
        } : nil
        let columns: [(OverviewSort, String, Bool)] = [
            (.name, "client", false), (.smsAvailable, "sms_available", true), (.smsUsed, "sms_used", true),
            (.mmsAvailable, "mms_credits", true), (.mmsUsed, "mms_used", true),
        ]
        let catalogue = pages.catalogue(request, setting: session.language)
        var data: [String: Any] = [
            "rows": shown.map { Self.rowData($0.0) }, "hasRows": !shown.isEmpty,
            "columns": columns.map { column, label, numeric in
                let order = column == sort && !descending ? "desc" : "asc"
                return [
                    "label": catalogue.text(label), "numeric": numeric, "active": column == sort, "arrow": descending ? "↓" : "↑",
                    "href": base + "sort=\(column.rawValue)&order=\(order)",
                ] as [String: Any]
            },
        ]
        if let search { data["search"] = search }
        data["empty"] = search.map { catalogue.text("no_client_matches", ["search": $0]) } ?? catalogue.text("no_clients")
        if let next { data["next"] = next }
        return try pages.page("clients", session, request, title: "nav_clients", data)
    }

    static func smsFirst(_ balances: [Balance]) -> [Balance] {
        balances.sorted { ($0.unit == .sms ? 0 : 1) < ($1.unit == .sms ? 0 : 1) }
    }

    static func balanceData(_ balance: Balance) -> [String: Any] {
        [
            "unit": balance.unit.rawValue, "unitLabel": balance.unit.rawValue.uppercased(),
            "available": formatted(balance.available), "reserved": formatted(balance.reserved),
            "posted": formatted(balance.posted),
        ]
    }

    static func rowData(_ row: ClientOverviewRow) -> [String: Any] {
        [
            "id": row.id.lower, "name": row.name, "status": row.status.rawValue,
            "smsAvailable": formatted(row.smsAvailable), "smsUsed": formatted(row.smsUsed),
            "mmsAvailable": formatted(row.mmsAvailable), "mmsUsed": formatted(row.mmsUsed),
        ]
    }
}
