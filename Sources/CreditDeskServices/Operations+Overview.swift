import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// What resellers and billing staff look at, for the API and the console alike.
extension Operations {
    /// "Clients → Show All": a reseller's clients with what they have and used this month.
    package static func clientsOverview(
        _ connection: PostgresConnection, _ principal: Principal, resellerID: UUID, search: String?, sort: OverviewSort,
        descending: Bool, after cursor: OverviewCursor?, limit: Int, now: Date = Date()
    ) throws -> [(ClientOverviewRow, sortValue: String)] {
        _ = try account(connection, principal, resellerID, for: .read)
        return try OverviewStore.clients(
            connection, resellerID: resellerID, search: search, sort: sort, descending: descending, after: cursor,
            limit: limit, periodStart: OverviewStore.monthStart(of: now))
    }

    /// An account's dashboard: its balances and this month's use, clients and resellers.
    package static func dashboard(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, now: Date = Date()
    ) throws -> (AccountRecord, [Balance], OverviewStore.Dashboard) {
        let (account, balances) = try balances(connection, principal, accountID: accountID)
        let dashboard = try OverviewStore.dashboard(
            connection, accountID: account.id, periodStart: OverviewStore.monthStart(of: now))
        return (account, balances, dashboard)
    }
}
