import CreditDeskCore
import CreditDeskDB
import Foundation

package struct UserRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let name: String
    package let email: String?
    package let role: Role
    package let status: String
    package let createdAt: Date
}

package struct APIKeyRecord: Sendable, Equatable {
    package let id: UUID
    package let userID: UUID
    package let prefix: String
    package let label: String
    package let createdAt: Date
    package let lastUsedAt: Date?
    package let revokedAt: Date?
    package let limits: KeyLimits
}

/// What authentication yields: the principal and whether its account may act at all.
package struct AuthenticatedKey: Sendable {
    package let principal: Principal
    package let keyID: UUID
    package let accountSuspended: Bool
    /// The key's scope, address ranges and expiry, checked on every request.
    package let limits: KeyLimits
}

/// Users and API keys. Keys are `cdk_` + 43 base64url characters (256 random bits); only the
/// SHA-256 of the whole key is stored, with its first characters for recognition.
package enum UserStore {
    static let insertUser = """
        INSERT INTO users (tenant_id, id, account_id, name, email, role) VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING created_at, status
        """
    static let selectUser = """
        SELECT id, tenant_id, account_id, name, email, role, status, created_at FROM users WHERE id = $1
        """
    static let selectUsers = """
        SELECT id, tenant_id, account_id, name, email, role, status, created_at FROM users
        WHERE account_id = $1 ORDER BY created_at, id
        """
    /// The addresses of the active admins of the accounts $1, for notices by email.
    static let selectAdminEmails = """
        SELECT DISTINCT email FROM users
        WHERE account_id = ANY ($1::text::uuid[]) AND role = 'admin' AND status = 'active' AND email IS NOT NULL
        ORDER BY email
        """
    static let insertKey = """
        INSERT INTO api_keys (tenant_id, id, user_id, key_hash, key_prefix, label, scope, allowed_addresses, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::cidr[], $9)
        RETURNING created_at
        """
    static let keyColumns = """
        id, user_id, key_prefix, label, created_at, last_used_at, revoked_at, scope, expires_at,
        array_to_string(allowed_addresses, ',') AS allowed_addresses
        """
    static let selectKeys = """
        SELECT \(keyColumns) FROM api_keys WHERE user_id = $1 ORDER BY created_at, id
        """
    static let selectKey = "SELECT \(keyColumns) FROM api_keys WHERE id = $1"
    static let revokeKey = "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1"
    static let authenticate = """
        SELECT k.id AS key_id, u.id AS user_id, u.account_id, u.tenant_id, u.role, a.kind,
               EXISTS (SELECT 1 FROM accounts p WHERE p.id = ANY (a.path) AND p.status = 'suspended') AS suspended,
               (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds') AS stale,
               k.scope, k.expires_at, array_to_string(k.allowed_addresses, ',') AS allowed_addresses
        FROM api_keys k JOIN users u ON u.id = k.user_id JOIN accounts a ON a.id = u.account_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.status = 'active'
          AND (k.expires_at IS NULL OR k.expires_at > now())
        """
    /// Written at most once a minute per key (when the lookup says it is stale), so
    /// authentication is neither a write nor a second round trip per request.
    static let touchKey = """
        UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
        """

    package static func createUser(
        _ connection: PostgresConnection, account: AccountRecord, name: String, email: String?, role: Role
    ) throws -> UserRecord {
        let id = UUID()
        let row = try connection.execute(
            insertUser, [account.tenantID, id, account.id, name, email, role.rawValue]
        ).single()
        return UserRecord(
            id: id, tenantID: account.tenantID, accountID: account.id, name: name, email: email, role: role,
            status: try row.decode(String.self, "status"), createdAt: try row.decode(Date.self, "created_at"))
    }

    package static func findUser(_ connection: PostgresConnection, id: UUID) throws -> UserRecord? {
        try connection.execute(selectUser, [id]).first.map(decodeUser)
    }

    package static func users(_ connection: PostgresConnection, accountID: UUID) throws -> [UserRecord] {
        try connection.execute(selectUsers, [accountID]).rows.map(decodeUser)
    }

    /// The email addresses of the active admins of `accountIDs` (each once).
    package static func adminEmails(_ connection: PostgresConnection, accountIDs: [UUID]) throws -> [String] {
        try connection.execute(selectAdminEmails, [arrayLiteral(accountIDs)]).rows.map { try $0.decode(String.self, "email") }
    }

    /// Creates a key and returns it with its secret, which is never readable again.
    package static func createKey(
        _ connection: PostgresConnection, user: UserRecord, label: String, limits: KeyLimits = .unrestricted
    ) throws -> (APIKeyRecord, secret: String) {
        let secret = newSecret()
        let id = UUID()
        let prefix = String(secret.prefix(12))
        let row = try connection.execute(
            insertKey,
            [
                user.tenantID, id, user.id, Digest.sha256(Array(secret.utf8)), prefix, label, limits.scope.rawValue,
                arrayLiteral(limits.allowedAddresses.map(\.description)), limits.expiresAt,
            ]
        ).single()
        let record = APIKeyRecord(
            id: id, userID: user.id, prefix: prefix, label: label, createdAt: try row.decode(Date.self, "created_at"),
            lastUsedAt: nil, revokedAt: nil, limits: limits)
        return (record, secret)
    }

    package static func keys(_ connection: PostgresConnection, userID: UUID) throws -> [APIKeyRecord] {
        try connection.execute(selectKeys, [userID]).rows.map(decodeKey)
    }

    package static func findKey(_ connection: PostgresConnection, id: UUID) throws -> APIKeyRecord? {
        try connection.execute(selectKey, [id]).first.map(decodeKey)
    }

    package static func revokeKey(_ connection: PostgresConnection, id: UUID) throws {
        try connection.execute(revokeKey, [id])
    }

    /// What a key is stored under; nil for anything that cannot be a key, refused without a query.
    package static func keyHash(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("cdk_"), secret.utf8.count < 100 else { return nil }
        return Digest.sha256(Array(secret.utf8))
    }

    package static func authenticate(_ connection: PostgresConnection, secret: String) throws -> AuthenticatedKey? {
        guard let hash = keyHash(secret) else { return nil }
        return try authenticate(connection, keyHash: hash)
    }

    package static func authenticate(_ connection: PostgresConnection, keyHash: [UInt8]) throws -> AuthenticatedKey? {
        guard let row = try connection.execute(authenticate, [keyHash]).first else { return nil }
        let keyID = try row.decode(UUID.self, "key_id")
        if try row.decode(Bool.self, "stale") { try connection.execute(touchKey, [keyID]) }
        guard let role = Role(rawValue: try row.decode(String.self, "role")),
            let kind = AccountKind(rawValue: try row.decode(String.self, "kind"))
        else { return nil }
        return AuthenticatedKey(
            principal: Principal(
                userID: try row.decode(UUID.self, "user_id"), accountID: try row.decode(UUID.self, "account_id"),
                tenantID: try row.decode(UUID.self, "tenant_id"), role: role, accountKind: kind),
            keyID: keyID, accountSuspended: try row.decode(Bool.self, "suspended"), limits: try decodeLimits(row))
    }

    static func decodeLimits(_ row: PostgresRow) throws -> KeyLimits {
        KeyLimits(
            scope: KeyScope(rawValue: try row.decode(String.self, "scope")) ?? .read,
            allowedAddresses: try row.decode(String.self, "allowed_addresses").split(separator: ",")
                .compactMap { AddressRange(String($0)) },
            expiresAt: try row.decode(Date?.self, "expires_at"))
    }

    package static func newSecret() -> String { "cdk_" + SecureRandom.token() }

    static func decodeUser(_ row: PostgresRow) throws -> UserRecord {
        UserRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), name: try row.decode(String.self, "name"),
            email: try row.decode(String?.self, "email"),
            role: Role(rawValue: try row.decode(String.self, "role")) ?? .readonly,
            status: try row.decode(String.self, "status"), createdAt: try row.decode(Date.self, "created_at"))
    }

    static func decodeKey(_ row: PostgresRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.decode(UUID.self, "id"), userID: try row.decode(UUID.self, "user_id"),
            prefix: try row.decode(String.self, "key_prefix"), label: try row.decode(String.self, "label"),
            createdAt: try row.decode(Date.self, "created_at"), lastUsedAt: try row.decode(Date?.self, "last_used_at"),
            revokedAt: try row.decode(Date?.self, "revoked_at"), limits: try decodeLimits(row))
    }
}
