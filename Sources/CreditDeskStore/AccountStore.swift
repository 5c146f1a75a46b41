import CreditDeskCore
import CreditDeskDB
import Foundation

package struct AccountRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let parentID: UUID?
    package let kind: AccountKind
    package let name: String
    package let status: AccountStatus
    package let ownFeatures: Set<Feature>
    package let effectiveFeatures: Set<Feature>
    /// Ancestors root first, ending with this account.
    package let path: [UUID]
    /// Suspended itself or below a suspended ancestor.
    package let effectivelySuspended: Bool
    package let createdAt: Date

    /// Whose rates price this account's messages: its parent (a client's reseller), or itself
    /// at the top of the tree.
    package var pricingAccountID: UUID { path.count >= 2 ? path[path.count - 2] : id }
}

/// Accounts and their place in the tree. Functions take a connection already inside the
/// caller's transaction; none opens one itself.
package enum AccountStore {
    static let columns = """
        a.tenant_id, a.id, a.parent_id, a.kind, a.name, a.status, a.created_at,
        array_to_string(a.features, ',') AS features,
        array_to_string(a.path, ',') AS path,
        (SELECT coalesce(string_agg(f, ','), '') FROM unnest(a.features) AS f
          WHERE NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = ANY (a.path) AND NOT (f = ANY (p.features))))
          AS effective_features,
        EXISTS (SELECT 1 FROM accounts p WHERE p.id = ANY (a.path) AND p.status = 'suspended') AS effectively_suspended
        """
    static let selectByID = "SELECT \(columns) FROM accounts a WHERE a.id = $1"
    static let insert = """
        INSERT INTO accounts (tenant_id, id, parent_id, kind, name, features, path)
        VALUES ($1, $2, $3, $4, $5, $6::text::text[], $7::text::uuid[])
        """
    static let insertBalances = """
        INSERT INTO balances (tenant_id, account_id, unit) VALUES ($1, $2, 'sms'), ($1, $2, 'mms')
        """
    static let update = """
        UPDATE accounts SET name = coalesce($2, name), status = coalesce($3, status), updated_at = now()
        WHERE id = $1
        """
    static let setFeatures = "UPDATE accounts SET features = $2::text::text[], updated_at = now() WHERE id = $1"
    static let selectChildren = """
        SELECT \(columns) FROM accounts a
        WHERE a.parent_id = $1
          AND ($2::text IS NULL OR a.name ILIKE '%' || $2 || '%')
          AND ($3::text IS NULL OR (lower(a.name), a.id) > ($3, $4::uuid))
        ORDER BY lower(a.name), a.id
        LIMIT $5
        """
    static let selectPlatform = "SELECT \(columns) FROM accounts a WHERE a.kind = 'platform'"

    package static func find(_ connection: PostgresConnection, id: UUID) throws -> AccountRecord? {
        try connection.execute(selectByID, [id]).first.map(decode)
    }

    package static func platform(_ connection: PostgresConnection) throws -> AccountRecord? {
        try connection.execute(selectPlatform).first.map(decode)
    }

    /// Creates an account under `parent` (nil only for the platform) with both balances at zero.
    package static func create(
        _ connection: PostgresConnection, parent: AccountRecord?, kind: AccountKind, name: String,
        features: Set<Feature> = []
    ) throws -> AccountRecord {
        let id = UUID()
        let tenantID: UUID
        let path: [UUID]
        if let parent {
            // A top-level reseller starts a tenant; everything below shares its tenant.
            tenantID = parent.kind == .platform ? id : parent.tenantID
            path = parent.path + [id]
        } else {
            tenantID = id
            path = [id]
        }
        try connection.execute(
            insert,
            [tenantID, id, parent?.id, kind.rawValue, name, arrayLiteral(features.map(\.rawValue).sorted()),
             arrayLiteral(path)])
        try connection.execute(insertBalances, [tenantID, id])
        guard let created = try find(connection, id: id) else {
            throw DatabaseError(.other, message: "account vanished right after insert")
        }
        return created
    }

    package static func update(_ connection: PostgresConnection, id: UUID, name: String?, status: AccountStatus?) throws {
        try connection.execute(update, [id, name, status?.rawValue])
    }

    package static func setFeatures(_ connection: PostgresConnection, id: UUID, features: Set<Feature>) throws {
        try connection.execute(setFeatures, [id, arrayLiteral(features.map(\.rawValue).sorted())])
    }

    package struct ChildCursor: Sendable, Equatable {
        package let lowerName: String
        package let id: UUID
        package init(lowerName: String, id: UUID) {
            self.lowerName = lowerName
            self.id = id
        }
    }

    package static func children(
        _ connection: PostgresConnection, parentID: UUID, search: String?, after cursor: ChildCursor?, limit: Int
    ) throws -> [AccountRecord] {
        try connection.execute(
            selectChildren, [parentID, search.map(escapeLike), cursor?.lowerName, cursor?.id, limit]
        ).rows.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> AccountRecord {
        func features(_ column: String) throws -> Set<Feature> {
            Set(try row.decode(String.self, column).split(separator: ",").compactMap { Feature(rawValue: String($0)) })
        }
        return AccountRecord(
            id: try row.decode(UUID.self, "id"),
            tenantID: try row.decode(UUID.self, "tenant_id"),
            parentID: try row.decode(UUID?.self, "parent_id"),
            kind: AccountKind(rawValue: try row.decode(String.self, "kind")) ?? .client,
            name: try row.decode(String.self, "name"),
            status: AccountStatus(rawValue: try row.decode(String.self, "status")) ?? .suspended,
            ownFeatures: try features("features"),
            effectiveFeatures: try features("effective_features"),
            path: try row.decode(String.self, "path").split(separator: ",").compactMap { UUID(uuidString: String($0)) },
            effectivelySuspended: try row.decode(Bool.self, "effectively_suspended"),
            createdAt: try row.decode(Date.self, "created_at"))
    }
}

/// `{a,b}`: a PostgreSQL array literal of plain tokens (feature names, UUIDs), cast in SQL.
func arrayLiteral(_ items: some Sequence<String>) -> String {
    var literal = "{"
    for (index, item) in items.enumerated() {
        if index > 0 { literal += "," }
        literal += item
    }
    return literal + "}"
}

/// `{a,b}` of UUIDs, as they appear everywhere else (lower case).
func arrayLiteral(_ ids: some Sequence<UUID>) -> String { arrayLiteral(ids.map(\.lower)) }

/// `{"a","b",NULL}`: a PostgreSQL array literal of arbitrary text, each element quoted.
/// Built as UTF-8 bytes: `"` and `\` are single bytes that never occur inside a multi-byte
/// sequence, so escaping them byte by byte is exact (and a campaign's 100,000 texts take
/// milliseconds, where appending scalar by scalar took most of a bulk request).
func quotedArrayLiteral(_ items: some Sequence<String?>) -> String {
    var literal: [UInt8] = [UInt8(ascii: "{")]
    literal.reserveCapacity(items.underestimatedCount * 16 + 2)
    var first = true
    for item in items {
        if !first { literal.append(UInt8(ascii: ",")) }
        first = false
        guard let item else {
            literal += "NULL".utf8
            continue
        }
        literal.append(UInt8(ascii: "\""))
        for byte in item.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { literal.append(UInt8(ascii: "\\")) }
            literal.append(byte)
        }
        literal.append(UInt8(ascii: "\""))
    }
    literal.append(UInt8(ascii: "}"))
    return String(decoding: literal, as: UTF8.self)
}

/// Makes `%` and `_` in a search term match themselves in ILIKE.
func escapeLike(_ term: String) -> String {
    term.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
        .replacingOccurrences(of: "_", with: "\\_")
}
