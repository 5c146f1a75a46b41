import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

// The contract's messaging answers (connections, messages, opt-outs, contacts, campaigns and
// usage reports), built straight from the services' records.

extension Components.Schemas.Gateway {
    /// `callbackToken` is shown once, at creation; the inbound URL needs it appended as `token=`.
    init(_ gateway: GatewayConnectionRecord, settings: MessagingSettings, callbackToken: String?) {
        let base = "\(settings.publicBaseURL)/v1/callbacks/\(gateway.provider.rawValue)/\(gateway.id.lower)"
        self.init(
            id: gateway.id.objectID, accountId: gateway.accountID.objectID, userId: gateway.userID?.objectID,
            provider: gateway.provider.sameCase(), name: gateway.name, baseUrl: gateway.baseURL, username: gateway.username,
            sender: gateway.sender, homePrefix: gateway.homePrefix, maxConcurrency: gateway.limits.maxConcurrency,
            maxMessagesPerSecond: gateway.limits.maxMessagesPerSecond, createdAt: gateway.createdAt,
            callbackToken: callbackToken, inboundUrl: gateway.provider == .kannel ? "\(base)/mo" : "\(base)/inbound")
    }
}

/// A replay answers the connection without its callback token.
extension Components.Schemas.Gateway: OneTimeSecretResponse {
    var withoutSecret: Self {
        var copy = self
        copy.callbackToken = nil
        copy.secretNotReplayable = true
        return copy
    }
}

extension Components.Schemas.Message {
    init(_ message: MessageRecord) {
        self.init(
            id: message.id.objectID, accountId: message.accountID.objectID, userId: message.userID?.objectID,
            gatewayId: message.connectionID?.objectID, direction: message.direction.sameCase(), unit: message.unit.sameCase(),
            from: message.sender, to: message.recipient, text: message.body, mediaUrls: message.mediaURLs,
            segments: message.segments, credits: message.credits, status: message.status.sameCase(),
            failureReason: message.failureReason, reservationId: message.reservationID?.objectID, sendAt: message.sendAt,
            sentAt: message.sentAt, deliveredAt: message.deliveredAt, contactId: message.contactID?.objectID,
            campaignId: message.campaignID?.objectID, routedTo: message.routedTo, createdAt: message.createdAt)
    }
}

extension Components.Schemas.ReplyRouting {
    init(_ routing: ReplyRoutingStore.ReplyRouting) {
        self.init(
            userId: routing.userID.objectID, channel: routing.channel.sameCase(), mobile: routing.mobile, email: routing.email)
    }
}

extension Components.Schemas.Contact {
    init(_ contact: ContactRecord) {
        self.init(
            id: contact.id.objectID, accountId: contact.accountID.objectID, firstName: contact.firstName,
            lastName: contact.lastName, mobile: contact.mobile, workPhone: contact.workPhone, homePhone: contact.homePhone,
            email: contact.email, smsConsent: contact.smsConsent,
            smsReachable: contact.mobile != nil && contact.smsConsent, createdAt: contact.createdAt)
    }
}

extension Components.Schemas.ContactList {
    init(_ list: ContactListRecord) {
        self.init(
            id: list.id.objectID, accountId: list.accountID.objectID, name: list.name, members: list.members,
            createdAt: list.createdAt)
    }
}

extension Components.Schemas.MessagingSettings {
    init(accountID: UUID, replyMatchOrder: [ContactPhoneField]) {
        self.init(accountId: accountID.objectID, replyMatchOrder: replyMatchOrder.map { $0.sameCase() })
    }
}

extension Components.Schemas.Campaign {
    /// `counts`: messages by status (and, after a cancel, how many it cancelled).
    init(_ campaign: CampaignRecord, counts: [String: Int], progress: CampaignProgress? = nil) {
        self.init(
            id: campaign.id.objectID, accountId: campaign.accountID.objectID, listId: campaign.listID.objectID,
            name: campaign.name, template: campaign.template, mediaUrls: campaign.mediaURLs,
            status: campaign.status.sameCase(), sendAt: campaign.sendAt, termsAcceptedAt: campaign.termsAcceptedAt,
            reservationBatchId: campaign.batchID?.objectID, recipients: campaign.recipients, skipped: campaign.skipped,
            unit: campaign.unit?.sameCase(), credits: campaign.credits, counts: .init(additionalProperties: counts),
            progress: progress.map(Components.Schemas.CampaignProgress.init), createdAt: campaign.createdAt, confirmedAt: campaign.confirmedAt, cancelledAt: campaign.cancelledAt)
    }
}

extension Components.Schemas.CampaignProgress {
    init(_ progress: CampaignProgress) {
        self.init(
            sent: progress.sent, delivered: progress.delivered, failed: progress.failed, cancelled: progress.cancelled,
            remaining: progress.remaining, perSecond: progress.perSecond, estimatedFinish: progress.estimatedFinish)
    }
}

extension Components.Schemas.Quote {
    init(campaignID: UUID, _ quote: CampaignOperations.Quote) {
        self.init(
            campaignId: campaignID.objectID, members: quote.members, recipients: quote.recipients,
            skipped: .init(additionalProperties: quote.skipped), segments: quote.segments, unit: quote.unit.sameCase(),
            creditsNeeded: quote.creditsNeeded, creditsAvailable: quote.creditsAvailable, sufficient: quote.sufficient)
    }
}

extension Components.Schemas.Recipient {
    /// `status` is the message's, or `skipped`.
    init(_ recipient: CampaignRecipientRecord) {
        self.init(
            position: recipient.position, contactId: recipient.contactID.objectID, phone: recipient.phone,
            messageId: recipient.messageID?.objectID, status: recipient.status?.rawValue ?? "skipped",
            reason: recipient.skipReason ?? recipient.failureReason, credits: recipient.credits)
    }
}

extension Components.Schemas.UsageRow {
    init(_ row: UsageRow) {
        self.init(
            accountId: row.accountID.objectID, accountName: row.accountName, periodStart: row.bucket,
            unit: row.unit.sameCase(), opening: row.opening, granted: row.flows.granted, sold: row.flows.sold,
            refunded: row.flows.refunded, consumed: row.flows.consumed, sent: row.flows.sent,
            received: row.flows.received, expired: row.flows.expired, removed: row.flows.removed,
            transferredOut: row.flows.transferredOut, closing: row.closing)
    }
}

extension Components.Schemas.GatewayPage: ContractPage {}
extension Components.Schemas.MessagePage: ContractPage {}
extension Components.Schemas.OptOutPage: ContractPage {}
extension Components.Schemas.ContactPage: ContractPage {}
extension Components.Schemas.ContactListPage: ContractPage {}
extension Components.Schemas.CampaignPage: ContractPage {}
extension Components.Schemas.RecipientPage: ContractPage {}
