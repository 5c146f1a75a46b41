import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// A usage export, produced batch by batch: each batch is a short query on a pooled
/// connection, encoded and handed to `emit` before the next is fetched. Memory stays
/// bounded by one batch whatever the export's size, no connection is held while the
/// consumer is slow, and when `emit` throws (the client went away) no further query runs.
package struct UsageExport: Sendable {
    package enum Detail: String, Sendable, CaseIterable {
        /// One row per account, bucket and unit.
        case daily
        /// One row per ledger entry and account side.
        case entries
    }

    package let root: UUID
    package let scope: UsageScope
    package let period: UsagePeriod
    package let grouping: UsageGrouping
    package let detail: Detail
    package let format: ExportFormat
    /// Accounts aggregated per query for daily rows.
    package var accountBatchSize = 200
    /// Entries per cursor fetch.
    package var entryBatchSize = 5_000

    package init(
        root: UUID, scope: UsageScope, period: UsagePeriod, grouping: UsageGrouping, detail: Detail, format: ExportFormat
    ) {
        self.root = root
        self.scope = scope
        self.period = period
        self.grouping = grouping
        self.detail = detail
        self.format = format
    }

    package static let dailyColumns = [
        "account_id", "account_name", "period_start", "unit", "opening", "granted", "sold", "refunded", "consumed",
        "sent", "received", "expired", "removed", "transferred_out", "closing",
    ]
    package static let entryColumns = [
        "entry_id", "created_at_local", "account_id", "account_name", "kind", "unit", "amount", "counterparty", "reason",
        "request_id",
    ]

    package var encoder: ExportEncoder {
        ExportEncoder(format: format, columns: detail == .daily ? Self.dailyColumns : Self.entryColumns)
    }

    package var fileName: String {
        "creditdesk-usage-\(root.uuidString.lowercased().prefix(8))-\(detail.rawValue)-\(period.from)_\(period.to).\(format.fileExtension)"
    }

    /// Runs the export; `emit` receives encoded text chunks with the number of rows in each.
    /// Returns the number of rows written.
    @discardableResult
    package func run(pool: DatabasePool, emit: (String, Int) async throws -> Void) async throws -> Int {
        try await emit(encoder.header, 0)
        let detail = detail
        let counted: (String, Int) async throws -> Void = { text, rows in
            try await emit(text, rows)
            Telemetry.exported(detail.rawValue, rows: rows)
        }
        switch detail {
        case .daily: return try await runDaily(pool: pool, emit: counted)
        case .entries: return try await runEntries(pool: pool, emit: counted)
        }
    }

    /// Daily rows: accounts in keyset batches, each batch aggregated by one short query.
    func runDaily(pool: DatabasePool, emit: (String, Int) async throws -> Void) async throws -> Int {
        let encoder = self.encoder
        var rowsWritten = 0
        var afterAccount: UUID? = nil
        while true {
            try Task.checkCancellation()
            let (root, scope, after, size, period, grouping) = (
                self.root, self.scope, afterAccount, accountBatchSize, self.period, self.grouping
            )
            let rows = try await pool.withConnection { connection -> ([UsageRow], UUID?, Int) in
                let accounts = try UsageStore.scope(connection, root: root, scope: scope, after: after, limit: size)
                let rows = try UsageStore.usage(connection, accounts: accounts, period: period, grouping: grouping)
                return (rows, accounts.last?.0, accounts.count)
            }
            guard let last = rows.1 else { break }
            afterAccount = last
            try await emit(rows.0.map { encoder.line(Self.values($0)) }.joined(), rows.0.count)
            rowsWritten += rows.0.count
            if rows.2 < accountBatchSize { break }
        }
        return rowsWritten
    }

    /// Entries: one server-side cursor over a read-only snapshot, fetched in batches on a
    /// leased connection. One query for the whole export, like COPY; when `emit` throws (the
    /// client went away) the lease rolls back, which closes the cursor and ends the query.
    func runEntries(pool: DatabasePool, emit: (String, Int) async throws -> Void) async throws -> Int {
        let encoder = self.encoder
        let (root, scope, period, batch) = (self.root, self.scope, self.period, entryBatchSize)
        return try await pool.withLease { lease in
            try await lease.run { try UsageStore.openEntriesCursor($0, root: root, scope: scope, period: period) }
            let bytes = ExportByteEncoder(encoder, kinds: [.int, .text, .text, .text, .text, .text, .int, .text, .text, .text])
            @Sendable func fetch() async throws -> (String, Int) {
                try await lease.run { connection in
                    let (out, count) = try UsageStore.fetchEntries(connection, batch: batch, encoder: bytes)
                    return (String(decoding: out, as: UTF8.self), count)
                }
            }
            var rowsWritten = 0
            var chunk = try await fetch()
            while chunk.1 > 0 {
                try Task.checkCancellation()
                // Fetch the next batch while this one is written: database and client overlap.
                async let next = fetch()
                do {
                    try await emit(chunk.0, chunk.1)
                } catch {
                    _ = try? await next
                    throw error
                }
                rowsWritten += chunk.1
                chunk = try await next
            }
            try await lease.run { try $0.execute("COMMIT") }
            return rowsWritten
        }
    }

    static func values(_ row: UsageRow) -> [ExportValue] {
        [
            .text(row.accountID.uuidString.lowercased()), .text(row.accountName), .text(row.bucket), .text(row.unit.rawValue),
            .int(row.opening), .int(row.flows.granted), .int(row.flows.sold), .int(row.flows.refunded),
            .int(row.flows.consumed), .int(row.flows.sent), .int(row.flows.received), .int(row.flows.expired),
            .int(row.flows.removed), .int(row.flows.transferredOut), .int(row.closing),
        ]
    }

}
