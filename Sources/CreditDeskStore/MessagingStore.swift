import CreditDeskCore
import CreditDeskDB
import Foundation

public struct GatewayConnectionRecord: Sendable, Equatable {
    public let id: UUID
    public let tenantID: UUID
    public let accountID: UUID
    public let userID: UUID?
    public let provider: GatewayProvider
    public let name: String
    public let baseURL: String
    public let username: String
    public let sender: String
    public let homePrefix: String
    public let secretSealed: [UInt8]
    public let secretKeyID: String
    public let callbackTokenHash: [UInt8]
    public let createdAt: Date
}

public struct MessageRecord: Sendable, Equatable {
    public let id: UUID
    public let tenantID: UUID
    public let accountID: UUID
    public let userID: UUID?
    public let connectionID: UUID?
    public let direction: MessageDirection
    public let unit: CreditUnit
    public let sender: String
    public let recipient: String
    public let body: String
    public let mediaURLs: [String]
    public let segments: Int
    public let credits: Int64
    public let status: MessageStatus
    public let failureReason: String?
    public let reservationID: UUID?
    public let sendAt: Date?
    public let sentAt: Date?
    public let deliveredAt: Date?
    /// Outbound: the contact a campaign sent it to; inbound: the contact the reply was linked to.
    public let contactID: UUID?
    public let campaignID: UUID?
    /// Inbound: where the reply was forwarded, or why it was not.
    public let routedTo: String?
    public let createdAt: Date
}

public struct JobRecord: Sendable, Equatable {
    public let id: Int64
    /// Nil for a kind this build does not know (written by a newer one): never guessed.
    public let kind: JobKind?
    public let subjectID: UUID
    public let attempts: Int
    public let maxAttempts: Int
}

/// Gateway connections, messages, opt-outs, rates and the job queue. Every function runs in
/// the caller's transaction.
public enum MessagingStore {
    // MARK: statements

    static let connectionColumns = """
        id, tenant_id, account_id, user_id, provider, name, base_url, username, sender, home_prefix,
        secret_sealed, secret_key_id, callback_token_hash, created_at
        """
    static let insertConnection = """
        INSERT INTO gateway_connections (tenant_id, id, account_id, user_id, provider, name, base_url, username, sender,
            home_prefix, secret_sealed, secret_key_id, callback_token_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        RETURNING \(connectionColumns)
        """
    static let selectConnection = "SELECT \(connectionColumns) FROM gateway_connections WHERE id = $1"
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
    static let selectAllConnectionSecrets = "SELECT id, secret_sealed, secret_key_id FROM gateway_connections ORDER BY id FOR UPDATE"
    static let selectRates = "SELECT prefix, credits_per_segment FROM message_rates WHERE reseller_id = $1"
    static let upsertRate = """
        INSERT INTO message_rates (tenant_id, reseller_id, prefix, credits_per_segment) VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id, reseller_id, prefix) DO UPDATE SET credits_per_segment = EXCLUDED.credits_per_segment
        """
    static let messageColumns = """
        id, tenant_id, account_id, user_id, connection_id, direction, unit, sender, recipient, body,
        array_to_json(media_urls)::text AS media_urls, segments, credits, status, failure_reason, reservation_id,
        send_at, sent_at, delivered_at, contact_id, campaign_id, routed_to, created_at
        """
    static let insertMessage = """
        INSERT INTO messages (tenant_id, id, account_id, user_id, connection_id, direction, unit, sender, recipient, body,
            media_urls, segments, credits, status, failure_reason, reservation_id, send_at, contact_id, gateway_message_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::text[], $12, $13, $14, $15, $16, $17, $18, $19)
        RETURNING \(messageColumns)
        """
    static let lockMessage = "SELECT \(messageColumns) FROM messages WHERE id = $1 FOR UPDATE"
    static let selectMessage = "SELECT \(messageColumns) FROM messages WHERE id = $1"
    static let updateMessageStatus = """
        UPDATE messages SET status = $2, failure_reason = coalesce($3, failure_reason),
            sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END,
            delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
            updated_at = now()
        WHERE id = $1
        RETURNING \(messageColumns)
        """
    /// Newest first, keyset-paged after the message $5.
    static let selectMessages = """
        SELECT \(messageColumns) FROM messages
        WHERE account_id = $1
          AND ($2::text IS NULL OR direction = $2)
          AND ($3::text IS NULL OR status = $3)
          AND ($4::text IS NULL OR recipient = $4 OR sender = $4)
          AND ($5::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM messages WHERE id = $5))
        ORDER BY created_at DESC, id DESC
        LIMIT $6
        """
    static let lockGatewayMessage = "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))"
    static let selectGatewayMessage = """
        SELECT \(messageColumns) FROM messages WHERE connection_id = $1 AND gateway_message_id = $2
        """
    static let setRoutedTo = "UPDATE messages SET routed_to = $2, updated_at = now() WHERE id = $1"
    static let isOptedOut = "SELECT 1 FROM opt_outs WHERE account_id = $1 AND phone = $2"
    static let insertOptOut = """
        INSERT INTO opt_outs (tenant_id, account_id, phone, source) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
        """
    static let deleteOptOut = "DELETE FROM opt_outs WHERE account_id = $1 AND phone = $2"
    static let selectOptOuts = """
        SELECT phone, source, created_at FROM opt_outs
        WHERE account_id = $1 AND ($2::text IS NULL OR phone > $2) ORDER BY phone LIMIT $3
        """
    static let insertJob = """
        INSERT INTO jobs (tenant_id, kind, subject_id, run_at) VALUES ($1, $2, $3, coalesce($4, now())) RETURNING id
        """
    /// Due jobs nobody holds, leased to the caller for `$2` seconds. SKIP LOCKED lets several
    /// daemons claim side by side without waiting on each other.
    static let claimJobs = """
        WITH due AS (
            SELECT tenant_id, id FROM jobs
            WHERE done_at IS NULL AND run_at <= now() AND (locked_until IS NULL OR locked_until < now())
            ORDER BY run_at, id LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs j SET locked_until = now() + make_interval(secs => $2), attempts = j.attempts + 1
        FROM due WHERE j.tenant_id = due.tenant_id AND j.id = due.id
        RETURNING j.id, j.kind, j.subject_id, j.attempts, j.max_attempts
        """
    static let finishJob = "UPDATE jobs SET done_at = now(), locked_until = NULL, last_error = $2 WHERE id = $1"
    static let retryJob = """
        UPDATE jobs SET run_at = now() + make_interval(secs => $2), locked_until = NULL, last_error = $3 WHERE id = $1
        """
    /// The open job of a message, if nobody is working on it right now.
    static let lockIdleJob = """
        SELECT id FROM jobs
        WHERE subject_id = $1 AND done_at IS NULL AND (locked_until IS NULL OR locked_until < now())
        FOR UPDATE SKIP LOCKED
        """

    // MARK: gateway connections

    public static func createConnection(
        _ connection: PostgresConnection, account: AccountRecord, userID: UUID?, provider: GatewayProvider, name: String,
        baseURL: String, username: String, sender: String, homePrefix: String, seal: (UUID) -> ([UInt8], String),
        callbackTokenHash: [UInt8]
    ) throws -> GatewayConnectionRecord {
        let id = UUID()
        let (sealed, keyID) = seal(id)
        return try decodeConnection(
            try connection.execute(
                insertConnection,
                [account.tenantID, id, account.id, userID, provider.rawValue, name, baseURL, username, sender,
                 homePrefix, sealed, keyID, callbackTokenHash]
            ).single())
    }

    public static func connection(_ connection: PostgresConnection, id: UUID) throws -> GatewayConnectionRecord? {
        try connection.execute(selectConnection, [id]).first.map(decodeConnection)
    }

    public static func connections(_ connection: PostgresConnection, accountID: UUID) throws -> [GatewayConnectionRecord] {
        try connection.execute(selectConnections, [accountID]).rows.map(decodeConnection)
    }

    public static func sendingConnection(_ connection: PostgresConnection, accountID: UUID, userID: UUID) throws
        -> GatewayConnectionRecord?
    {
        try connection.execute(selectSendingConnection, [accountID, userID]).first.map(decodeConnection)
    }

    /// Every connection's sealed secret, locked, for a key rotation.
    public static func lockAllSecrets(_ connection: PostgresConnection) throws -> [(id: UUID, sealed: [UInt8], keyID: String)] {
        try connection.execute(selectAllConnectionSecrets).rows.map {
            (try $0.decode(UUID.self, "id"), try $0.decode([UInt8].self, "secret_sealed"),
             try $0.decode(String.self, "secret_key_id"))
        }
    }

    public static func reseal(_ connection: PostgresConnection, id: UUID, sealed: [UInt8], keyID: String) throws {
        try connection.execute(resealConnection, [id, sealed, keyID])
    }

    // MARK: rates

    /// A reseller's whole rate table (a few rows: one per destination prefix it prices).
    public static func rates(_ connection: PostgresConnection, resellerID: UUID) throws -> RateTable {
        var rates: [String: Int64] = [:]
        for row in try connection.execute(selectRates, [resellerID]).rows {
            rates[try row.decode(String.self, "prefix")] = try row.decode(Int64.self, "credits_per_segment")
        }
        return RateTable(rates)
    }

    public static func setRate(
        _ connection: PostgresConnection, reseller: AccountRecord, prefix: String, creditsPerSegment: Int64
    ) throws {
        try connection.execute(upsertRate, [reseller.tenantID, reseller.id, prefix, creditsPerSegment])
    }

    // MARK: messages

    public struct NewMessage: Sendable {
        public var id = UUID()
        public var account: AccountRecord
        public var userID: UUID?
        public var connectionID: UUID?
        public var direction: MessageDirection
        public var unit: CreditUnit
        public var sender: String
        public var recipient: String
        public var body: String
        public var mediaURLs: [String]
        public var segments: Int
        public var credits: Int64
        public var status: MessageStatus
        public var failureReason: String?
        public var reservationID: UUID?
        public var sendAt: Date?
        public var contactID: UUID?
        /// The gateway's own id of an inbound message: a repeat of it is not stored twice.
        public var gatewayMessageID: String?

        public init(
            account: AccountRecord, userID: UUID?, connectionID: UUID?, direction: MessageDirection, unit: CreditUnit,
            sender: String, recipient: String, body: String, mediaURLs: [String], segments: Int, credits: Int64,
            status: MessageStatus, failureReason: String? = nil, reservationID: UUID? = nil, sendAt: Date? = nil
        ) {
            self.account = account
            self.userID = userID
            self.connectionID = connectionID
            self.direction = direction
            self.unit = unit
            self.sender = sender
            self.recipient = recipient
            self.body = body
            self.mediaURLs = mediaURLs
            self.segments = segments
            self.credits = credits
            self.status = status
            self.failureReason = failureReason
            self.reservationID = reservationID
            self.sendAt = sendAt
        }
    }

    public static func insert(_ connection: PostgresConnection, _ message: NewMessage) throws -> MessageRecord {
        try decodeMessage(
            try connection.execute(
                insertMessage,
                [message.account.tenantID, message.id, message.account.id, message.userID, message.connectionID,
                 message.direction.rawValue, message.unit.rawValue, message.sender, message.recipient, message.body,
                 quotedArrayLiteral(message.mediaURLs), Int64(message.segments), message.credits,
                 message.status.rawValue, message.failureReason, message.reservationID, message.sendAt,
                 message.contactID, message.gatewayMessageID]
            ).single())
    }

    public static func lockMessage(_ connection: PostgresConnection, id: UUID) throws -> MessageRecord? {
        try connection.execute(lockMessage, [id]).first.map(decodeMessage)
    }

    public static func message(_ connection: PostgresConnection, id: UUID) throws -> MessageRecord? {
        try connection.execute(selectMessage, [id]).first.map(decodeMessage)
    }

    @discardableResult
    public static func setStatus(
        _ connection: PostgresConnection, id: UUID, _ status: MessageStatus, reason: String? = nil
    ) throws -> MessageRecord {
        try decodeMessage(try connection.execute(updateMessageStatus, [id, status.rawValue, reason]).single())
    }

    public static func messages(
        _ connection: PostgresConnection, accountID: UUID, direction: MessageDirection?, status: MessageStatus?,
        phone: String?, afterID: UUID?, limit: Int
    ) throws -> [MessageRecord] {
        try connection.execute(
            selectMessages, [accountID, direction?.rawValue, status?.rawValue, phone, afterID, Int64(limit)]
        ).rows.map(decodeMessage)
    }

    /// An inbound message already stored under the gateway's id, with the id locked for the
    /// rest of the transaction so a concurrent repeat waits and then finds it.
    public static func lockInbound(_ connection: PostgresConnection, connectionID: UUID, gatewayMessageID: String) throws
        -> MessageRecord?
    {
        try connection.execute(lockGatewayMessage, [connectionID.uuidString.lowercased(), gatewayMessageID])
        return try connection.execute(selectGatewayMessage, [connectionID, gatewayMessageID]).first.map(decodeMessage)
    }

    public static func setRoutedTo(_ connection: PostgresConnection, id: UUID, _ routedTo: String) throws {
        try connection.execute(setRoutedTo, [id, routedTo])
    }

    // MARK: opt-outs

    public static func isOptedOut(_ connection: PostgresConnection, accountID: UUID, phone: String) throws -> Bool {
        try connection.execute(isOptedOut, [accountID, phone]).first != nil
    }

    public static func optOut(_ connection: PostgresConnection, account: AccountRecord, phone: String, source: String) throws {
        try connection.execute(insertOptOut, [account.tenantID, account.id, phone, source])
    }

    public static func optIn(_ connection: PostgresConnection, accountID: UUID, phone: String) throws -> Bool {
        try connection.execute(deleteOptOut, [accountID, phone]).affectedRows > 0
    }

    public static func optOuts(_ connection: PostgresConnection, accountID: UUID, after: String?, limit: Int) throws
        -> [(phone: String, source: String, createdAt: Date)]
    {
        try connection.execute(selectOptOuts, [accountID, after, Int64(limit)]).rows.map {
            (try $0.decode(String.self, "phone"), try $0.decode(String.self, "source"), try $0.decode(Date.self, "created_at"))
        }
    }

    // MARK: jobs

    public static func enqueue(_ connection: PostgresConnection, tenantID: UUID, kind: JobKind, subjectID: UUID, runAt: Date?) throws {
        try connection.execute(insertJob, [tenantID, kind.rawValue, subjectID, runAt])
    }

    public static func claim(_ connection: PostgresConnection, limit: Int, leaseSeconds: Int) throws -> [JobRecord] {
        try connection.execute(claimJobs, [Int64(limit), Int64(leaseSeconds)]).rows.map {
            JobRecord(
                id: try $0.decode(Int64.self, "id"), kind: JobKind(rawValue: try $0.decode(String.self, "kind")),
                subjectID: try $0.decode(UUID.self, "subject_id"), attempts: Int(try $0.decode(Int64.self, "attempts")),
                maxAttempts: Int(try $0.decode(Int64.self, "max_attempts")))
        }
    }

    public static func finish(_ connection: PostgresConnection, jobID: Int64, error: String? = nil) throws {
        try connection.execute(finishJob, [jobID, error])
    }

    public static func retry(_ connection: PostgresConnection, jobID: Int64, afterSeconds: Int, error: String) throws {
        try connection.execute(retryJob, [jobID, Int64(afterSeconds), error])
    }

    /// The job of a message that nobody is working on, locked; nil when it is being worked on
    /// (or there is none).
    public static func lockIdleJob(_ connection: PostgresConnection, subjectID: UUID) throws -> Int64? {
        try connection.execute(lockIdleJob, [subjectID]).first?.decode(Int64.self, "id")
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
            createdAt: try row.decode(Date.self, "created_at"))
    }

    /// media_urls arrive as a JSON array (array_to_json), decoded by one shared decoder.
    private static let mediaDecoder = JSONDecoder()

    static func decodeMedia(_ json: String) -> [String] {
        (try? mediaDecoder.decode([String].self, from: Data(json.utf8))) ?? []
    }

    static func decodeMessage(_ row: PostgresRow) throws -> MessageRecord {
        let media = try row.decode(String.self, "media_urls")
        return MessageRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), userID: try row.decode(UUID?.self, "user_id"),
            connectionID: try row.decode(UUID?.self, "connection_id"),
            direction: MessageDirection(rawValue: try row.decode(String.self, "direction")) ?? .outbound,
            unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms,
            sender: try row.decode(String.self, "sender"), recipient: try row.decode(String.self, "recipient"),
            body: try row.decode(String.self, "body"),
            mediaURLs: decodeMedia(media),
            segments: Int(try row.decode(Int64.self, "segments")), credits: try row.decode(Int64.self, "credits"),
            status: MessageStatus(rawValue: try row.decode(String.self, "status")) ?? .failed,
            failureReason: try row.decode(String?.self, "failure_reason"),
            reservationID: try row.decode(UUID?.self, "reservation_id"), sendAt: try row.decode(Date?.self, "send_at"),
            sentAt: try row.decode(Date?.self, "sent_at"), deliveredAt: try row.decode(Date?.self, "delivered_at"),
            contactID: try row.decode(UUID?.self, "contact_id"), campaignID: try row.decode(UUID?.self, "campaign_id"),
            routedTo: try row.decode(String?.self, "routed_to"),
            createdAt: try row.decode(Date.self, "created_at"))
    }
}
