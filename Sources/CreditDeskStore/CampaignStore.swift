import CreditDeskCore
import CreditDeskDB
import Foundation

package enum CampaignStatus: String, Codable, Sendable, CaseIterable { case draft, confirmed, cancelled }

package struct CampaignRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let userID: UUID?
    package let listID: UUID
    package let name: String
    package let template: String
    package let mediaURLs: [String]
    package let status: CampaignStatus
    package let sendAt: Date?
    package let termsAcceptedAt: Date?
    package let batchID: UUID?
    package let recipients: Int
    package let skipped: Int
    package let unit: CreditUnit?
    package let credits: Int64
    package let createdAt: Date
    package let confirmedAt: Date?
    package let cancelledAt: Date?
}

/// One list member's outcome: the message sent to it, or why none was.
package struct CampaignRecipientRecord: Sendable, Equatable {
    package let position: Int
    package let contactID: UUID
    package let phone: String?
    package let messageID: UUID?
    package let skipReason: String?
    package let status: MessageStatus?
    package let failureReason: String?
    package let credits: Int64
}

/// What confirming writes for one sendable recipient.
package struct CampaignMessage: Sendable {
    package let position: Int
    package let contactID: UUID
    package let messageID: UUID
    package let phone: String
    package let text: String
    package let segments: Int
    package let credits: Int64

    package init(position: Int, contactID: UUID, messageID: UUID, phone: String, text: String, segments: Int, credits: Int64) {
        self.position = position
        self.contactID = contactID
        self.messageID = messageID
        self.phone = phone
        self.text = text
        self.segments = segments
        self.credits = credits
    }
}

/// Campaigns and their recipients. Confirming writes the campaign's messages, jobs and
/// recipient rows set-wise: a few statements whatever the list's size.
package enum CampaignStore {
    // MARK: statements

    static let campaignColumns = """
        id, tenant_id, account_id, user_id, list_id, name, template, array_to_json(media_urls)::text AS media_urls, status,
        send_at, terms_accepted_at, batch_id, recipients, skipped, unit, credits, created_at, confirmed_at, cancelled_at
        """
    static let insertCampaign = """
        INSERT INTO campaigns (tenant_id, id, account_id, user_id, list_id, name, template, media_urls, send_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::text[], $9)
        RETURNING \(campaignColumns)
        """
    static let lockCampaign = "SELECT \(campaignColumns) FROM campaigns WHERE id = $1 FOR UPDATE"
    static let selectCampaign = "SELECT \(campaignColumns) FROM campaigns WHERE id = $1"
    static let selectCampaigns = """
        SELECT \(campaignColumns) FROM campaigns
        WHERE account_id = $1 AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM campaigns WHERE id = $2))
        ORDER BY created_at DESC, id DESC LIMIT $3
        """
    static let confirmCampaign = """
        UPDATE campaigns SET status = 'confirmed', terms_accepted_at = now(), terms_accepted_by = $2, confirmed_at = now(),
            send_at = $3, batch_id = $4, recipients = $5, skipped = $6, unit = $7, credits = $8
        WHERE id = $1
        RETURNING \(campaignColumns)
        """
    static let cancelCampaign = """
        UPDATE campaigns SET status = 'cancelled', cancelled_at = now() WHERE id = $1 RETURNING \(campaignColumns)
        """
    static let batchReservations = "SELECT id, reference FROM reservations WHERE batch_id = $1"
    /// Every message of the campaign in one statement, from parallel arrays.
    static let insertMessages = """
        INSERT INTO messages (tenant_id, id, account_id, user_id, connection_id, direction, unit, sender, recipient, body,
            media_urls, segments, credits, status, reservation_id, send_at, contact_id, campaign_id)
        SELECT $1::uuid, m.id, $2::uuid, $3::uuid, $4::uuid, 'outbound', $5::text, $6::text, m.recipient, m.body,
               $7::text::text[], m.segments, m.credits, $8::text, m.reservation_id, $9::timestamptz, m.contact_id, $10::uuid
        FROM unnest($11::text::uuid[], $12::text::text[], $13::text::text[], $14::text::int[], $15::text::bigint[],
                    $16::text::uuid[], $17::text::uuid[])
             AS m (id, recipient, body, segments, credits, reservation_id, contact_id)
        """
    static let insertRecipients = """
        INSERT INTO campaign_recipients (tenant_id, campaign_id, position, contact_id, phone, message_id, skip_reason)
        SELECT $1::uuid, $2::uuid, r.position, r.contact_id, r.phone, r.message_id, r.skip_reason
        FROM unnest($3::text::int[], $4::text::uuid[], $5::text::text[], $6::text::uuid[], $7::text::text[])
             AS r (position, contact_id, phone, message_id, skip_reason)
        """
    static let lockUnsentMessages = """
        SELECT \(MessageStore.messageColumns) FROM messages
        WHERE campaign_id = $1 AND status IN ('scheduled', 'queued') ORDER BY id FOR UPDATE
        """
    static let statusCounts = "SELECT status, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY status"
    static let recentlySent = """
        SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND sent_at > now() - make_interval(secs => $2)
        """
    static let selectRecipients = """
        SELECT r.position, r.contact_id, r.phone, r.message_id, r.skip_reason, m.status, m.failure_reason,
               coalesce(m.credits, 0) AS credits
        FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id
        WHERE r.campaign_id = $1 AND ($2::int IS NULL OR r.position > $2)
        ORDER BY r.position LIMIT $3
        """

    // MARK: campaigns

    package static func insert(
        _ connection: PostgresConnection, account: AccountRecord, userID: UUID?, listID: UUID, name: String,
        template: String, mediaURLs: [String], sendAt: Date?
    ) throws -> CampaignRecord {
        try decode(
            try connection.execute(
                insertCampaign,
                [account.tenantID, UUID(), account.id, userID, listID, name, template, quotedArrayLiteral(mediaURLs), sendAt]
            ).single())
    }

    package static func lock(_ connection: PostgresConnection, id: UUID) throws -> CampaignRecord? {
        try connection.execute(lockCampaign, [id]).first.map(decode)
    }

    package static func campaign(_ connection: PostgresConnection, id: UUID) throws -> CampaignRecord? {
        try connection.execute(selectCampaign, [id]).first.map(decode)
    }

    package static func campaigns(_ connection: PostgresConnection, accountID: UUID, afterID: UUID?, limit: Int) throws
        -> [CampaignRecord]
    {
        try connection.execute(selectCampaigns, [accountID, afterID, Int64(limit)]).rows.map(decode)
    }

    package struct Confirmation: Sendable {
        package let campaign: CampaignRecord
        package let account: AccountRecord
        package let userID: UUID?
        package let gateway: GatewayConnectionRecord
        package let unit: CreditUnit
        package let sendAt: Date?
        package let batchID: UUID
        package let messages: [CampaignMessage]
        package let skipped: [(position: Int, contactID: UUID, phone: String?, reason: String)]

        package init(campaign: CampaignRecord, account: AccountRecord, userID: UUID?, gateway: GatewayConnectionRecord, unit: CreditUnit, sendAt: Date?, batchID: UUID, messages: [CampaignMessage], skipped: [(position: Int, contactID: UUID, phone: String?, reason: String)]) {
            self.campaign = campaign
            self.account = account
            self.userID = userID
            self.gateway = gateway
            self.unit = unit
            self.sendAt = sendAt
            self.batchID = batchID
            self.messages = messages
            self.skipped = skipped
        }
    }

    /// Writes the messages (each on its reservation of the batch), their jobs and the recipient rows,
    /// and marks the campaign confirmed.
    package static func confirm(_ connection: PostgresConnection, _ confirmation: Confirmation) throws -> CampaignRecord {
        let account = confirmation.account
        var reservations: [String: UUID] = [:]
        for row in try connection.execute(batchReservations, [confirmation.batchID]).rows {
            reservations[try row.decode(String.self, "reference")] = try row.decode(UUID.self, "id")
        }
        let messages = confirmation.messages
        guard reservations.count == messages.count else {
            throw DatabaseError(.other, message: "campaign batch holds \(reservations.count) reservations for \(messages.count) messages")
        }
        let ids = arrayLiteral(messages.map(\.messageID))
        try connection.execute(
            insertMessages,
            [account.tenantID, account.id, confirmation.userID, confirmation.gateway.id, confirmation.unit.rawValue,
             confirmation.gateway.sender, quotedArrayLiteral(confirmation.campaign.mediaURLs),
             (confirmation.sendAt == nil ? MessageStatus.queued : .scheduled).rawValue, confirmation.sendAt,
             confirmation.campaign.id, ids, quotedArrayLiteral(messages.map(\.phone)), quotedArrayLiteral(messages.map(\.text)),
             arrayLiteral(messages.map { String($0.segments) }), arrayLiteral(messages.map { String($0.credits) }),
             arrayLiteral(messages.map { reservations[reference(confirmation.campaign.id, $0.position)]! }),
             arrayLiteral(messages.map(\.contactID))])
        try JobStore.enqueueCampaign(connection, tenantID: account.tenantID, messageIDs: ids, runAt: confirmation.sendAt)
        let positions = messages.map(\.position) + confirmation.skipped.map(\.position)
        try connection.execute(
            insertRecipients,
            [account.tenantID, confirmation.campaign.id, arrayLiteral(positions.map(String.init)),
             arrayLiteral(messages.map(\.contactID) + confirmation.skipped.map(\.contactID)),
             quotedArrayLiteral(messages.map { Optional($0.phone) } + confirmation.skipped.map(\.phone)),
             quotedArrayLiteral(messages.map { Optional($0.messageID.uuidString.lowercased()) } + confirmation.skipped.map { _ in nil }),
             quotedArrayLiteral(messages.map { _ in nil } + confirmation.skipped.map { Optional($0.reason) })])
        return try decode(
            try connection.execute(
                confirmCampaign,
                [confirmation.campaign.id, confirmation.userID, confirmation.sendAt, confirmation.batchID,
                 Int64(messages.count), Int64(confirmation.skipped.count), confirmation.unit.rawValue,
                 messages.reduce(Int64(0)) { $0 + $1.credits }]
            ).single())
    }

    /// The reservation reference of a campaign's message: unique within the campaign's batch.
    package static func reference(_ campaignID: UUID, _ position: Int) -> String {
        "campaign \(campaignID.uuidString.lowercased()) #\(position)"
    }

    package static func lockUnsentMessages(_ connection: PostgresConnection, campaignID: UUID) throws -> [MessageRecord] {
        try connection.execute(lockUnsentMessages, [campaignID]).rows.map(MessageStore.decodeMessage)
    }

    package static func markCancelled(_ connection: PostgresConnection, id: UUID) throws -> CampaignRecord {
        try decode(try connection.execute(cancelCampaign, [id]).single())
    }

    /// How many of the campaign's messages the gateway took in the last `seconds`.
    package static func recentlySent(_ connection: PostgresConnection, campaignID: UUID, seconds: Int) throws -> Int {
        Int(try connection.execute(recentlySent, [campaignID, Int64(seconds)]).single().decode(Int64.self, "n"))
    }

    package static func statusCounts(_ connection: PostgresConnection, campaignID: UUID) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.execute(statusCounts, [campaignID]).rows {
            counts[try row.decode(String.self, "status")] = Int(try row.decode(Int64.self, "n"))
        }
        return counts
    }

    package static func recipients(_ connection: PostgresConnection, campaignID: UUID, afterPosition: Int?, limit: Int) throws
        -> [CampaignRecipientRecord]
    {
        try connection.execute(selectRecipients, [campaignID, afterPosition.map { Int64($0) }, Int64(limit)]).rows.map { row in
            CampaignRecipientRecord(
                position: Int(try row.decode(Int64.self, "position")), contactID: try row.decode(UUID.self, "contact_id"),
                phone: try row.decode(String?.self, "phone"), messageID: try row.decode(UUID?.self, "message_id"),
                skipReason: try row.decode(String?.self, "skip_reason"),
                status: try row.decode(String?.self, "status").flatMap(MessageStatus.init(rawValue:)),
                failureReason: try row.decode(String?.self, "failure_reason"), credits: try row.decode(Int64.self, "credits"))
        }
    }

    static func decode(_ row: PostgresRow) throws -> CampaignRecord {
        let media = try row.decode(String.self, "media_urls")
        return CampaignRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), userID: try row.decode(UUID?.self, "user_id"),
            listID: try row.decode(UUID.self, "list_id"), name: try row.decode(String.self, "name"),
            template: try row.decode(String.self, "template"),
            mediaURLs: MessageStore.decodeMedia(media),
            status: CampaignStatus(rawValue: try row.decode(String.self, "status")) ?? .draft,
            sendAt: try row.decode(Date?.self, "send_at"), termsAcceptedAt: try row.decode(Date?.self, "terms_accepted_at"),
            batchID: try row.decode(UUID?.self, "batch_id"), recipients: Int(try row.decode(Int64.self, "recipients")),
            skipped: Int(try row.decode(Int64.self, "skipped")),
            unit: try row.decode(String?.self, "unit").flatMap(CreditUnit.init(rawValue:)),
            credits: try row.decode(Int64.self, "credits"), createdAt: try row.decode(Date.self, "created_at"),
            confirmedAt: try row.decode(Date?.self, "confirmed_at"), cancelledAt: try row.decode(Date?.self, "cancelled_at"))
    }
}

/// Campaigns that have nothing left to send.
extension CampaignStore {
    /// Confirmed campaigns due to have started (at most $1, oldest first, none another daemon
    /// is finishing), with no message queued or scheduled, marked finished; once each.
    static let finishCampaigns = """
        UPDATE campaigns c SET finished_at = now()
        WHERE c.id IN (SELECT id FROM campaigns
                       WHERE status = 'confirmed' AND finished_at IS NULL AND (send_at IS NULL OR send_at <= now())
                       ORDER BY confirmed_at LIMIT $1 FOR UPDATE SKIP LOCKED)
          AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = c.id AND m.status IN ('queued', 'scheduled'))
        RETURNING c.id
        """

    /// Marks finished the campaigns that are (see `finishCampaigns`); answers their ids.
    package static func finishCampaigns(_ connection: PostgresConnection, limit: Int) throws -> [UUID] {
        try connection.execute(finishCampaigns, [Int64(limit)]).rows.map { try $0.decode(UUID.self, "id") }
    }
}
