import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// What resellers and billing staff look at: the clients table, the dashboard, usage reports.
extension APIHandlers {
    func listClients(_ input: Endpoints.ListClients.Input) async throws -> Endpoints.ListClients.Output {
        let id = input.path.id.uuid
        let query = input.query
        let limit = try Parameters.limit(query.limit)
        let search = try Parameters.search(query.search)
        let sort: OverviewSort = try query.sort.converted() ?? .name
        let descending = query.order == .desc
        let cursor = try Cursor.decode(query.cursor, count: 2).map { parts in
            guard let id = UUID(uuidString: parts[1]), sort == .name || Int64(parts[0]) != nil else {
                throw Cursor.foreign
            }
            return OverviewCursor(sortValue: parts[0], id: id)
        }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try Operations.clientsOverview(
                connection, principal, resellerID: id, search: search, sort: sort, descending: descending, after: cursor,
                limit: limit + 1)
            return Components.Schemas.ClientRowPage(
                rows: rows, limit: limit, item: { Components.Schemas.ClientRow($0.0) }, cursor: { [$0.sortValue, $0.0.id.lower] })
        })))
    }

    func getDashboard(_ input: Endpoints.GetDashboard.Input) async throws -> Endpoints.GetDashboard.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let (account, balances, dashboard) = try Operations.dashboard(connection, principal, accountID: id)
            return Components.Schemas.Dashboard(
                accountId: account.id.objectID, periodStart: dashboard.periodStart, smsUsed: dashboard.smsUsed,
                mmsUsed: dashboard.mmsUsed, clients: dashboard.clients, resellers: dashboard.resellers,
                balances: balances.map(Components.Schemas.Balance.init))
        })))
    }

    func getUsage(_ input: Endpoints.GetUsage.Input) async throws -> Endpoints.GetUsage.Output {
        let id = input.path.id.uuid
        let query = input.query
        let period = try UsageController.period(from: query.from, to: query.to, timeZone: query.tz)
        let grouping: UsageGrouping = try query.group.converted() ?? .day
        let scope: UsageScope = try query.scope.converted() ?? .account
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let report = try Operations.usageReport(
                connection, principal, accountID: id, scope: scope, period: period, grouping: grouping)
            return Components.Schemas.UsageReport(
                accountId: id.objectID, from: period.from, to: period.to, tz: period.timeZone, group: grouping.sameCase(),
                scope: scope.sameCase(), rows: report.rows.map(Components.Schemas.UsageRow.init),
                totals: report.totals.map(Components.Schemas.UsageRow.init),
                revenue: report.revenue.map { .init(currency: $0.currency, sales: $0.sales, amountMinor: $0.amountMinor) })
        })))
    }
}
