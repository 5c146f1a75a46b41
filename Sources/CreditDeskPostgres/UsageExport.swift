import CreditDeskCore
import Foundation

/// A usage export, produced batch by batch: each batch is a short query on a pooled
/// connection, encoded and handed to `emit` before the next is fetched. Memory stays
/// bounded by one batch whatever the export's size, no connection is held while the
/// consumer is slow, and when `emit` throws (the client went away) no further query runs.
public struct UsageExport: Sendable {
    public enum Detail: String, Sendable, CaseIterable {
        /// One row per account, bucket and unit.
        case daily
        /// One row per ledger entry and account side.
        case entries
    }

    public let root: UUID
    public let scope: UsageScope
    public let period: UsagePeriod
    public let grouping: UsageGrouping
    public let detail: Detail
    public let format: ExportFormat
    public var accountBatchSize = 200
    public var entryBatchSize = 5_000

    public init(
        root: UUID, scope: UsageScope, period: UsagePeriod, grouping: UsageGrouping, detail: Detail, format: ExportFormat
    ) {
        self.root = root
        self.scope = scope
        self.period = period
        self.grouping = grouping
        self.detail = detail
        self.format = format
    }

    public static let dailyColumns = [
        "account_id", "account_name", "period_start", "unit", "opening", "granted", "sold", "refunded", "consumed",
        "removed", "transferred_out", "closing",
    ]
    public static let entryColumns = [
        "entry_id", "created_at_local", "account_id", "account_name", "kind", "unit", "amount", "counterparty", "reason",
        "request_id",
    ]

    public var encoder: ExportEncoder {
        ExportEncoder(format: format, columns: detail == .daily ? Self.dailyColumns : Self.entryColumns)
    }

    public var fileName: String {
        "creditdesk-usage-\(root.uuidString.lowercased().prefix(8))-\(detail.rawValue)-\(period.from)_\(period.to).\(format.fileExtension)"
    }

    /// Runs the export; `emit` receives encoded text chunks with the number of rows in each.
    /// Returns the number of rows written.
    @discardableResult
    public func run(pool: DatabasePool, emit: (String, Int) async throws -> Void) async throws -> Int {
        let encoder = self.encoder
        try await emit(encoder.header, 0)
        var rowsWritten = 0
        var afterAccount: UUID? = nil
        while true {
            try Task.checkCancellation()
            let (root, scope, after, size) = (self.root, self.scope, afterAccount, accountBatchSize)
            let accounts = try await pool.withConnection { connection in
                try UsageStore.scope(connection, root: root, scope: scope, after: after, limit: size)
            }
            guard let last = accounts.last else { break }
            afterAccount = last.0
            switch detail {
            case .daily:
                let (period, grouping) = (self.period, self.grouping)
                let rows = try await pool.withConnection { connection in
                    try UsageStore.usage(connection, accounts: accounts, period: period, grouping: grouping)
                }
                try await emit(rows.map { encoder.line(Self.values($0)) }.joined(), rows.count)
                rowsWritten += rows.count
            case .entries:
                var position: (Int64, Int) = (0, 0)
                let ids = accounts.map(\.0)
                while true {
                    try Task.checkCancellation()
                    let (period, from, size) = (self.period, position, entryBatchSize)
                    let rows = try await pool.withConnection { connection in
                        try UsageStore.entries(connection, accounts: ids, period: period, after: from, limit: size)
                    }
                    guard let lastRow = rows.last else { break }
                    position = (lastRow.entryID, lastRow.side)
                    try await emit(rows.map { encoder.line(Self.values($0)) }.joined(), rows.count)
                    rowsWritten += rows.count
                }
            }
            if accounts.count < accountBatchSize { break }
        }
        return rowsWritten
    }

    static func values(_ row: UsageRow) -> [ExportValue] {
        [
            .text(row.accountID.uuidString.lowercased()), .text(row.accountName), .text(row.bucket), .text(row.unit.rawValue),
            .int(row.opening), .int(row.granted), .int(row.sold), .int(row.refunded), .int(row.consumed), .int(row.removed),
            .int(row.transferredOut), .int(row.closing),
        ]
    }

    static func values(_ row: UsageEntryRow) -> [ExportValue] {
        [
            .int(row.entryID), .text(row.createdAtLocal), .text(row.accountID.uuidString.lowercased()),
            .text(row.accountName), .text(row.kind.rawValue), .text(row.unit.rawValue), .int(row.amount),
            .text(row.counterparty), row.reason.map(ExportValue.text) ?? .null, row.requestID.map(ExportValue.text) ?? .null,
        ]
    }
}
