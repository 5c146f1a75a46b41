import CreditDeskCore
import CreditDeskDB
import Foundation

package struct MessageRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let userID: UUID?
    package let connectionID: UUID?
    package let direction: MessageDirection
    package let unit: CreditUnit
    package let sender: String
    package let recipient: String
    package let body: String
    package let mediaURLs: [String]
    package let segments: Int
    package let credits: Int64
    package let status: MessageStatus
    package let failureReason: String?
    package let reservationID: UUID?
    package let sendAt: Date?
    package let sentAt: Date?
    package let deliveredAt: Date?
    /// Outbound: the contact a campaign sent it to; inbound: the contact the reply was linked to.
    package let contactID: UUID?
    package let campaignID: UUID?
    /// Inbound: where the reply was forwarded, or why it was not.
    package let routedTo: String?
    package let createdAt: Date
}

/// Sent and received messages. Every function runs in the caller's transaction.
package enum MessageStore {
    // MARK: statements

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
    static let selectMessagesByID = "SELECT \(messageColumns) FROM messages WHERE id = ANY ($1::text::uuid[])"
    static let lockMessagesByID = "SELECT id FROM messages WHERE id = ANY ($1::text::uuid[]) ORDER BY id FOR UPDATE"
    static let updateMessageStatus = """
        UPDATE messages SET status = $2, failure_reason = coalesce($3, failure_reason),
            sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END,
            delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
            updated_at = now()
        WHERE id = $1
        RETURNING \(messageColumns)
        """
    /// The messages of $1 still waiting to go, now `sent`; answers their reservations.
    static let markSentByID = """
        UPDATE messages SET status = 'sent', sent_at = now(), updated_at = now()
        WHERE id = ANY ($1::text::uuid[]) AND status IN ('queued', 'scheduled')
        """
    static let selectAcceptedReservations = """
        SELECT reservation_id FROM messages
        WHERE id = ANY ($1::text::uuid[]) AND status IN ('sent', 'delivered') AND reservation_id IS NOT NULL
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

    package struct NewMessage: Sendable {
        package var id = UUID()
        package var account: AccountRecord
        package var userID: UUID?
        package var connectionID: UUID?
        package var direction: MessageDirection
        package var unit: CreditUnit
        package var sender: String
        package var recipient: String
        package var body: String
        package var mediaURLs: [String]
        package var segments: Int
        package var credits: Int64
        package var status: MessageStatus
        package var failureReason: String?
        package var reservationID: UUID?
        package var sendAt: Date?
        package var contactID: UUID?
        /// The gateway's own id of an inbound message: a repeat of it is not stored twice.
        package var gatewayMessageID: String?

        package init(
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

    package static func insert(_ connection: PostgresConnection, _ message: NewMessage) throws -> MessageRecord {
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

    package static func lockMessage(_ connection: PostgresConnection, id: UUID) throws -> MessageRecord? {
        try connection.execute(lockMessage, [id]).first.map(decodeMessage)
    }

    /// Those of the messages still waiting to go become `sent`; answers how many did.
    @discardableResult
    package static func markSent(_ connection: PostgresConnection, ids: [UUID]) throws -> Int {
        try connection.execute(markSentByID, [arrayLiteral(ids)]).affectedRows
    }

    /// The reservations of those of the messages the gateway took (`sent` or `delivered`).
    package static func acceptedReservations(_ connection: PostgresConnection, ids: [UUID]) throws -> [UUID] {
        try connection.execute(selectAcceptedReservations, [arrayLiteral(ids)]).rows
            .compactMap { try $0.decode(UUID?.self, "reservation_id") }
    }

    /// Locks several messages in id order, as every transaction locking more than one does, so
    /// that a batch and a delivery report racing it wait for each other instead of deadlocking.
    package static func lockMessages(_ connection: PostgresConnection, ids: [UUID]) throws {
        try connection.execute(lockMessagesByID, [arrayLiteral(ids)])
    }

    /// Several messages at once (a batch of the sending engine), in no particular order.
    package static func messages(_ connection: PostgresConnection, ids: [UUID]) throws -> [MessageRecord] {
        try connection.execute(selectMessagesByID, [arrayLiteral(ids)]).rows.map(decodeMessage)
    }

    package static func message(_ connection: PostgresConnection, id: UUID) throws -> MessageRecord? {
        try connection.execute(selectMessage, [id]).first.map(decodeMessage)
    }

    @discardableResult
    package static func setStatus(
        _ connection: PostgresConnection, id: UUID, _ status: MessageStatus, reason: String? = nil
    ) throws -> MessageRecord {
        try decodeMessage(try connection.execute(updateMessageStatus, [id, status.rawValue, reason]).single())
    }

    package static func messages(
        _ connection: PostgresConnection, accountID: UUID, direction: MessageDirection?, status: MessageStatus?,
        phone: String?, afterID: UUID?, limit: Int
    ) throws -> [MessageRecord] {
        try connection.execute(
            selectMessages, [accountID, direction?.rawValue, status?.rawValue, phone, afterID, Int64(limit)]
        ).rows.map(decodeMessage)
    }

    /// An inbound message already stored under the gateway's id, with the id locked for the
    /// rest of the transaction so a concurrent repeat waits and then finds it.
    package static func lockInbound(_ connection: PostgresConnection, connectionID: UUID, gatewayMessageID: String) throws
        -> MessageRecord?
    {
        try connection.execute(lockGatewayMessage, [connectionID.uuidString.lowercased(), gatewayMessageID])
        return try connection.execute(selectGatewayMessage, [connectionID, gatewayMessageID]).first.map(decodeMessage)
    }

    package static func setRoutedTo(_ connection: PostgresConnection, id: UUID, _ routedTo: String) throws {
        try connection.execute(setRoutedTo, [id, routedTo])
    }

    // MARK: decoding

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
