import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Reading the audit log: a page for the API, the console and the library, and the streamed
/// export. Writing it is each audited operation's last step (`AuditStore.append`).
extension Operations {
    /// Rows of `accountID`'s subtree matching `filter`, newest first, before row `beforeID`.
    package static func audit(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, filter: AuditFilter,
        beforeID: Int64?, limit: Int
    ) throws -> [AuditRecord] {
        try authorizeAudit(connection, principal, accountID: accountID, filter: filter)
        return try AuditStore.events(connection, root: accountID, filter: filter, beforeID: beforeID, limit: limit)
    }

    /// Whether `principal` may read `accountID`'s audit log with `filter`; `not_found` outside
    /// its subtree.
    package static func authorizeAudit(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, filter: AuditFilter
    ) throws {
        _ = try account(connection, principal, accountID, for: .readAudit)
        try filter.validate()
    }
}

/// The audit log of a subtree as CSV or JSON Lines, newest first, in keyset batches: each
/// batch is a short query on a pooled connection, so memory stays bounded by one batch and no
/// connection waits on a slow client. Rows written while it runs are newer than its first
/// batch, so they are not part of it.
package struct AuditExport: Sendable {
    package let root: UUID
    package let filter: AuditFilter
    package let format: ExportFormat
    package var batchSize = 1_000

    package init(root: UUID, filter: AuditFilter, format: ExportFormat) {
        self.root = root
        self.filter = filter
        self.format = format
    }

    package static let columns = [
        "id", "tenant_id", "seq", "occurred_at", "account_id", "action", "object_type", "object_id", "actor_user_id",
        "actor_key_id", "actor_session_id", "channel", "source_address", "request_id", "changes",
    ]

    package var fileName: String {
        "creditdesk-audit-\(root.uuidString.lowercased().prefix(8)).\(format.fileExtension)"
    }

    /// Runs the export; `emit` receives encoded text chunks. Returns the number of rows.
    @discardableResult
    package func run(pool: DatabasePool, emit: (String) async throws -> Void) async throws -> Int {
        let encoder = ExportEncoder(format: format, columns: Self.columns)
        try await emit(encoder.header)
        var rowsWritten = 0
        var before: Int64? = nil
        while true {
            try Task.checkCancellation()
            let (root, filter, after, size) = (self.root, self.filter, before, batchSize)
            let rows = try await pool.withConnection { connection in
                try AuditStore.events(connection, root: root, filter: filter, beforeID: after, limit: size)
            }
            guard let last = rows.last else { break }
            try await emit(try rows.map { encoder.line(try Self.values($0)) }.joined())
            rowsWritten += rows.count
            Telemetry.exported("audit", rows: rows.count)
            before = last.id
            if rows.count < size { break }
        }
        return rowsWritten
    }

    static func values(_ row: AuditRecord) throws -> [ExportValue] {
        let optional = { (id: UUID?) in id.map { ExportValue.text($0.lower) } ?? .null }
        return [
            .int(row.id), .text(row.tenantID.lower), .int(row.seq), .text(ISO8601.format(row.occurredAt)),
            .text(row.accountID.lower), .text(row.action), .text(row.objectType), .text(row.objectID),
            optional(row.actorUserID), optional(row.actorKeyID), optional(row.actorSessionID), .text(row.channel.rawValue),
            row.sourceAddress.map(ExportValue.text) ?? .null, row.requestID.map(ExportValue.text) ?? .null,
            .json(try AuditStore.encodedChanges(row.changes)),
        ]
    }
}
