import CreditDeskCore
import CreditDeskDB
import Foundation

/// One row of the audit log as read back.
package struct AuditRecord: Sendable, Equatable {
    package let id: Int64
    package let tenantID: UUID
    package let seq: Int64
    package let occurredAt: Date
    package let actorUserID: UUID?
    package let actorKeyID: UUID?
    package let actorSessionID: UUID?
    package let channel: RequestOrigin.Channel
    package let sourceAddress: String?
    package let requestID: String?
    package let accountID: UUID
    /// The account's and the actor's names now, for people reading the log (ids are the record).
    package let accountName: String
    package let actorName: String?
    package let action: String
    package let objectType: String
    package let objectID: String
    package let changes: [AuditChange]
}

/// The audit log (sql/0015_audit_log.sql): appended in the changing transaction, read by
/// subtree with filters, newest first.
package enum AuditStore {
    /// Locks the tenant's counter (creating it at zero) until the transaction ends.
    static let lock = """
        INSERT INTO audit_sequences AS s (tenant_id, last_seq) VALUES ($1, 0)
        ON CONFLICT (tenant_id) DO UPDATE SET last_seq = s.last_seq
        """
    /// Takes the tenant's next number and writes the row in one statement.
    static let append = """
        WITH next AS (
            INSERT INTO audit_sequences AS s (tenant_id, last_seq) VALUES ($1, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET last_seq = s.last_seq + 1
            RETURNING last_seq
        )
        INSERT INTO audit_log (
            tenant_id, seq, actor_user_id, actor_key_id, actor_session_id, channel, source_address, request_id,
            account_id, account_path, action, object_type, object_id, changes)
        SELECT $1, next.last_seq, $2, $3, $4, $5, $6::inet, $7, $8, $9::uuid[], $10, $11, $12, $13::jsonb FROM next
        """
    static let columns = """
        l.id, l.tenant_id, l.seq, l.occurred_at, l.actor_user_id, l.actor_key_id, l.actor_session_id, l.channel,
        host(l.source_address) AS source_address, l.request_id, l.account_id, l.action, l.object_type, l.object_id,
        l.changes::text AS changes, a.name AS account_name, u.name AS actor_name
        """
    /// The subtree of $1 (every tenant's rows contain the platform in their path), filtered.
    static let select = """
        SELECT \(columns) FROM audit_log l
        JOIN accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
        LEFT JOIN users u ON u.id = l.actor_user_id
        WHERE l.account_path @> ARRAY[$1::uuid]
          AND ($2::text IS NULL OR l.action = $2)
          AND ($3::uuid IS NULL OR l.actor_user_id = $3)
          AND ($4::text IS NULL OR l.object_id = $4)
          AND ($5::timestamptz IS NULL OR l.occurred_at >= $5)
          AND ($6::timestamptz IS NULL OR l.occurred_at < $6)
          AND ($7::bigint IS NULL OR l.id < $7)
        ORDER BY l.id DESC
        LIMIT $8
        """
    /// Serializes the tenant's audited changes from here to the end of the transaction; see
    /// sql/0015_audit_log.sql for why it comes before reading what will change.
    package static func lock(_ connection: PostgresConnection, tenantID: UUID) throws {
        try connection.execute(lock, [tenantID])
    }

    /// Writes `event` about `account` as done by `context`'s actor, through its origin.
    package static func append(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, _ event: AuditEvent
    ) throws {
        let origin = context.origin
        try connection.execute(
            append,
            [
                account.tenantID, context.actorUserID, origin.keyID, origin.sessionID, origin.channel.rawValue,
                origin.sourceAddress, context.requestID, account.id, arrayLiteral(account.path),
                event.action.rawValue, event.action.objectType, event.objectID, try encodedChanges(event.changes),
            ])
    }

    /// Writes `action` about `objectID` with the fields whose values differ between `before`
    /// and `after`; writes nothing when none does (a change to what already was is no change).
    package static func appendChanges(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, _ action: AuditAction,
        objectID: String, before: [String: AuditValue?], after: [String: AuditValue?]
    ) throws {
        let changes = AuditChange.diff(before, after)
        guard !changes.isEmpty else { return }
        try append(connection, context, account: account, AuditEvent(action, objectID: objectID, changes: changes))
    }

    /// Rows of `root`'s subtree matching `filter`, newest first, before the row `beforeID`.
    package static func events(
        _ connection: PostgresConnection, root: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int
    ) throws -> [AuditRecord] {
        try connection.execute(
            select,
            [
                root, filter.action?.rawValue, filter.actorUserID, filter.objectID, filter.from, filter.to, beforeID,
                limit,
            ]
        ).rows.map(decode)
    }

    /// `{"field": {"before": …, "after": …}}`, a missing side left out.
    /// One field's two sides as the `changes` column stores them.
    struct Sides: Codable {
        let before: AuditValue?
        let after: AuditValue?
    }

    package static func encodedChanges(_ changes: [AuditChange]) throws -> String {
        let object = Dictionary(changes.map { ($0.field, Sides(before: $0.before, after: $0.after)) }) { first, _ in first }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }

    static func decodedChanges(_ text: String) throws -> [AuditChange] {
        let object = try JSONDecoder().decode([String: Sides].self, from: Data(text.utf8))
        return object.keys.sorted().map { AuditChange(field: $0, before: object[$0]?.before, after: object[$0]?.after) }
    }

    static func decode(_ row: PostgresRow) throws -> AuditRecord {
        AuditRecord(
            id: try row.decode(Int64.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            seq: try row.decode(Int64.self, "seq"), occurredAt: try row.decode(Date.self, "occurred_at"),
            actorUserID: try row.decode(UUID?.self, "actor_user_id"),
            actorKeyID: try row.decode(UUID?.self, "actor_key_id"),
            actorSessionID: try row.decode(UUID?.self, "actor_session_id"),
            channel: RequestOrigin.Channel(rawValue: try row.decode(String.self, "channel")) ?? .system,
            sourceAddress: try row.decode(String?.self, "source_address"),
            requestID: try row.decode(String?.self, "request_id"), accountID: try row.decode(UUID.self, "account_id"),
            accountName: try row.decode(String.self, "account_name"), actorName: try row.decode(String?.self, "actor_name"),
            action: try row.decode(String.self, "action"), objectType: try row.decode(String.self, "object_type"),
            objectID: try row.decode(String.self, "object_id"),
            changes: try decodedChanges(try row.decode(String.self, "changes")))
    }
}
