import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

// Campaigns, their quotes and recipients as the API answers them.

struct CampaignDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let listId: String
    let name: String
    let template: String
    let mediaUrls: [String]
    let status: CampaignStatus
    let sendAt: Date?
    let termsAcceptedAt: Date?
    let reservationBatchId: String?
    let recipients: Int
    let skipped: Int
    let unit: CreditUnit?
    let credits: Int64
    /// Messages by status (and, after a cancel, how many it cancelled).
    let counts: [String: Int]
    let createdAt: Date
    let confirmedAt: Date?
    let cancelledAt: Date?

    init(_ campaign: CampaignRecord, counts: [String: Int]) {
        id = campaign.id.lower
        accountId = campaign.accountID.lower
        listId = campaign.listID.lower
        name = campaign.name
        template = campaign.template
        mediaUrls = campaign.mediaURLs
        status = campaign.status
        sendAt = campaign.sendAt
        termsAcceptedAt = campaign.termsAcceptedAt
        reservationBatchId = campaign.batchID?.lower
        recipients = campaign.recipients
        skipped = campaign.skipped
        unit = campaign.unit
        credits = campaign.credits
        self.counts = counts
        createdAt = campaign.createdAt
        confirmedAt = campaign.confirmedAt
        cancelledAt = campaign.cancelledAt
    }
}

struct QuoteDTO: Encodable, Sendable {
    let campaignId: String
    let members: Int
    let recipients: Int
    /// Members that will not be sent to, counted by reason.
    let skipped: [String: Int]
    let segments: Int
    let unit: CreditUnit
    let creditsNeeded: Int64
    let creditsAvailable: Int64
    let sufficient: Bool

    init(campaignId: String, _ quote: CampaignOperations.Quote) {
        self.campaignId = campaignId
        members = quote.members
        recipients = quote.recipients
        skipped = quote.skipped
        segments = quote.segments
        unit = quote.unit
        creditsNeeded = quote.creditsNeeded
        creditsAvailable = quote.creditsAvailable
        sufficient = quote.sufficient
    }
}

struct RecipientDTO: Encodable, Sendable {
    let position: Int
    let contactId: String
    let phone: String?
    let messageId: String?
    /// The message's status, or `skipped`.
    let status: String
    let reason: String?
    let credits: Int64

    init(_ recipient: CampaignRecipientRecord) {
        position = recipient.position
        contactId = recipient.contactID.lower
        phone = recipient.phone
        messageId = recipient.messageID?.lower
        status = recipient.status?.rawValue ?? "skipped"
        reason = recipient.skipReason ?? recipient.failureReason
        credits = recipient.credits
    }
}
