import CreditDeskCore
import CreditDeskDB
import Foundation

package struct GatewayConnectionRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let userID: UUID?
    package let provider: GatewayProvider
    package let name: String
    package let baseURL: String
    package let username: String
    package let sender: String
    package let homePrefix: String
    package let secretSealed: [UInt8]
    package let secretKeyID: String
    package let callbackTokenHash: [UInt8]
    package let limits: GatewayLimits
    package let createdAt: Date
}

/// Gateway connections: one per office, or an agent's own; secrets sealed. Every function runs
/// in the caller's transaction.
package enum GatewayStore {
    // MARK: statements

    static let connectionColumns = """
        id, tenant_id, account_id, user_id, provider, name, base_url, username, sender, home_prefix,
        secret_sealed, secret_key_id, callback_token_hash, max_concurrency, max_messages_per_second, created_at
        """
    static let insertConnection = """
        INSERT INTO gateway_connections (tenant_id, id, account_id, user_id, provider, name, base_url, username, sender,
            home_prefix, secret_sealed, secret_key_id, callback_token_hash, max_concurrency, max_messages_per_second)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        RETURNING \(connectionColumns)
        """
    static let selectConnection = "SELECT \(connectionColumns) FROM gateway_connections WHERE id = $1"
    static let selectConnectionsByID = "SELECT \(connectionColumns) FROM gateway_connections WHERE id = ANY ($1::text::uuid[])"
    static let selectConnections = """
        SELECT \(connectionColumns) FROM gateway_connections WHERE account_id = $1 ORDER BY created_at, id
        """
    /// The sending user's own connection when there is one, else the office's.
    static let selectSendingConnection = """
        SELECT \(connectionColumns) FROM gateway_connections
        WHERE account_id = $1 AND (user_id = $2 OR user_id IS NULL)
        ORDER BY user_id NULLS LAST LIMIT 1
        """
    static let resealConnection = """
        UPDATE gateway_connections SET secret_sealed = $2, secret_key_id = $3, updated_at = now() WHERE id = $1
        """
    static let updateLimits = """
        UPDATE gateway_connections SET max_concurrency = $2, max_messages_per_second = $3, updated_at = now()
        WHERE id = $1 RETURNING \(connectionColumns)
        """
    /// A rate-limited connection's token bucket: created full, then locked, refilled and drawn
    /// from (the arithmetic is `GatewayLimits.take`).
    static let insertSendTokens = """
        INSERT INTO gateway_send_tokens (tenant_id, connection_id, tokens, refilled_at)
        VALUES ($1, $2, $3::text::float8, clock_timestamp()) ON CONFLICT DO NOTHING
        """
    static let lockSendTokens = """
        SELECT tokens, refilled_at, clock_timestamp() AS now FROM gateway_send_tokens
        WHERE tenant_id = $1 AND connection_id = $2 FOR UPDATE
        """
    static let updateSendTokens = """
        UPDATE gateway_send_tokens SET tokens = $3::text::float8, refilled_at = $4 WHERE tenant_id = $1 AND connection_id = $2
        """
    static let selectAllConnectionSecrets = "SELECT id, secret_sealed, secret_key_id FROM gateway_connections ORDER BY id FOR UPDATE"

    package static func createConnection(
        _ connection: PostgresConnection, account: AccountRecord, userID: UUID?, provider: GatewayProvider, name: String,
        baseURL: String, username: String, sender: String, homePrefix: String, limits: GatewayLimits,
        seal: (UUID) -> ([UInt8], String), callbackTokenHash: [UInt8]
    ) throws -> GatewayConnectionRecord {
        let id = UUID()
        let (sealed, keyID) = seal(id)
        return try decodeConnection(
            try connection.execute(
                insertConnection,
                [account.tenantID, id, account.id, userID, provider.rawValue, name, baseURL, username, sender,
                 homePrefix, sealed, keyID, callbackTokenHash, Int64(limits.maxConcurrency),
                 limits.maxMessagesPerSecond.map(Int64.init)]
            ).single())
    }

    /// Several connections at once (those a batch of messages goes through).
    package static func connections(_ connection: PostgresConnection, ids: [UUID]) throws -> [GatewayConnectionRecord] {
        try connection.execute(selectConnectionsByID, [arrayLiteral(ids)]).rows.map(decodeConnection)
    }

    package static func connection(_ connection: PostgresConnection, id: UUID) throws -> GatewayConnectionRecord? {
        try connection.execute(selectConnection, [id]).first.map(decodeConnection)
    }

    package static func connections(_ connection: PostgresConnection, accountID: UUID) throws -> [GatewayConnectionRecord] {
        try connection.execute(selectConnections, [accountID]).rows.map(decodeConnection)
    }

    package static func sendingConnection(_ connection: PostgresConnection, accountID: UUID, userID: UUID) throws
        -> GatewayConnectionRecord?
    {
        try connection.execute(selectSendingConnection, [accountID, userID]).first.map(decodeConnection)
    }

    package static func setLimits(_ connection: PostgresConnection, id: UUID, _ limits: GatewayLimits) throws
        -> GatewayConnectionRecord
    {
        try decodeConnection(
            try connection.execute(
                updateLimits, [id, Int64(limits.maxConcurrency), limits.maxMessagesPerSecond.map(Int64.init)]
            ).single())
    }

    /// Takes up to `want` submissions' worth from the connection's token bucket, shared by every
    /// daemon (the row lock orders them). Run it in a transaction of its own: it holds the lock.
    package static func takeSendTokens(_ connection: PostgresConnection, gateway: GatewayConnectionRecord, want: Int) throws
        -> SendTokenGrant
    {
        let key: [any PostgresBindable] = [gateway.tenantID, gateway.id]
        try connection.execute(insertSendTokens, key + [String(Double(gateway.limits.grantTokens))])
        let bucket = try connection.execute(lockSendTokens, key).single()
        let grant = gateway.limits.take(
            want: want, fromBucketOf: try bucket.decode(Double.self, "tokens"),
            refilledAt: try bucket.decode(Date.self, "refilled_at"), now: try bucket.decode(Date.self, "now"))
        try connection.execute(updateSendTokens, key + [String(grant.tokensLeft), grant.refilledAt])
        return grant
    }

    /// Every connection's sealed secret, locked, for a key rotation.
    package static func lockAllSecrets(_ connection: PostgresConnection) throws -> [(id: UUID, sealed: [UInt8], keyID: String)] {
        try connection.execute(selectAllConnectionSecrets).rows.map {
            (try $0.decode(UUID.self, "id"), try $0.decode([UInt8].self, "secret_sealed"),
             try $0.decode(String.self, "secret_key_id"))
        }
    }

    package static func reseal(_ connection: PostgresConnection, id: UUID, sealed: [UInt8], keyID: String) throws {
        try connection.execute(resealConnection, [id, sealed, keyID])
    }

    // MARK: decoding

    static func decodeConnection(_ row: PostgresRow) throws -> GatewayConnectionRecord {
        GatewayConnectionRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), userID: try row.decode(UUID?.self, "user_id"),
            provider: GatewayProvider(rawValue: try row.decode(String.self, "provider")) ?? .kannel,
            name: try row.decode(String.self, "name"), baseURL: try row.decode(String.self, "base_url"),
            username: try row.decode(String.self, "username"), sender: try row.decode(String.self, "sender"),
            homePrefix: try row.decode(String.self, "home_prefix"),
            secretSealed: try row.decode([UInt8].self, "secret_sealed"),
            secretKeyID: try row.decode(String.self, "secret_key_id"),
            callbackTokenHash: try row.decode([UInt8].self, "callback_token_hash"),
            limits: GatewayLimits(
                maxConcurrency: Int(try row.decode(Int64.self, "max_concurrency")),
                maxMessagesPerSecond: try row.decode(Int64?.self, "max_messages_per_second").map { Int($0) }),
            createdAt: try row.decode(Date.self, "created_at"))
    }
}
