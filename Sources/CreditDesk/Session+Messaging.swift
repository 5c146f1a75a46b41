import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

// MARK: - Messages and usage

extension Session {
    /// Queues an SMS from an account: its credits are reserved now, and a running
    /// `creditdesk serve` sends it through the account's gateway, posting the credits on
    /// acceptance or releasing them on failure. `sendAt` schedules it (needs `scheduling`).
    public func send(
        _ text: String, to phone: String, from accountID: UUID, at sendAt: Date? = nil, idempotencyKey: String? = nil
    ) async throws -> Message {
        struct Input: Encodable { let text: String, to: String, accountID: UUID, sendAt: Date? }
        let input = Input(text: text, to: phone, accountID: accountID, sendAt: sendAt)
        return try await mutate("send", input, key: idempotencyKey) {
            Message(
                try MessagingOperations.send(
                    $0, $1, $2, accountID: accountID, input: .init(to: phone, text: text, mediaURLs: [], sendAt: sendAt)))
        }
    }

    /// An account's messages, sent and received, newest first.
    public func messages(of accountID: UUID, limit: Int = 100) async throws -> [Message] {
        let limit = min(max(limit, 1), Limits.maxPageSize)
        return try await read { connection, principal in
            try MessagingOperations.messages(
                connection, principal, accountID: accountID, direction: nil, status: nil, phone: nil, afterID: nil,
                limit: limit
            ).map(Message.init)
        }
    }

    /// Usage from `from` (inclusive) to `to` (exclusive), both `YYYY-MM-DD`, cut into days or
    /// months in `timeZone` (IANA). Every row reconciles: opening + in − out = closing.
    public func usage(
        of accountID: UUID, from: String, to: String, scope: UsageScope = .account, grouping: UsageGrouping = .day,
        timeZone: String = "UTC"
    ) async throws -> UsageReport {
        let period = try await Desk.mapping { try UsagePeriod(from: from, to: to, timeZone: timeZone) }
        return try await read { connection, principal in
            let report = try Operations.usageReport(
                connection, principal, accountID: accountID, scope: scope.sameCase(), period: period,
                grouping: grouping.sameCase())
            return UsageReport(rows: report.rows.map(UsageRow.init), totals: report.totals.map(UsageRow.init))
        }
    }

    /// Streams a usage export (CSV or JSON Lines) in constant memory: `write` receives the text
    /// batch by batch, with the number of rows in it. `entries` true gives one line per ledger
    /// entry instead of per day. Answers the number of rows written.
    public func exportUsage(
        of accountID: UUID, from: String, to: String, scope: UsageScope = .account, grouping: UsageGrouping = .day,
        timeZone: String = "UTC", entries: Bool = false, jsonLines: Bool = false,
        write: (String, Int) async throws -> Void
    ) async throws -> Int {
        _ = try await account(accountID)
        let period = try await Desk.mapping { try UsagePeriod(from: from, to: to, timeZone: timeZone) }
        let export = UsageExport(
            root: accountID, scope: scope.sameCase(), period: period, grouping: grouping.sameCase(),
            detail: entries ? .entries : .daily, format: jsonLines ? .jsonl : .csv)
        return try await Desk.mapping { try await export.run(pool: desk.pool) { text, rows in try await write(text, rows) } }
    }
}
