import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Campaigns: create a draft, quote it, test it, confirm it (terms accepted), cancel it, and
/// read its per-recipient results.
struct CampaignsController {
    let access: Access

    struct CreateCampaign: Decodable {
        static let fields: Set<String> = ["name", "list_id", "template", "media_urls", "send_at"]
        let name: String
        let listId: UUID
        let template: String
        let mediaUrls: [String]?
        let sendAt: String?
    }

    struct TestDispatch: Decodable {
        static let fields: Set<String> = ["to"]
        let to: String
    }

    struct Confirm: Decodable {
        static let fields: Set<String> = ["accept_terms", "send_at"]
        let acceptTerms: Bool
        let sendAt: String?
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/campaigns") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateCampaign.self, from: body, fields: CreateCampaign.fields)
            let sendAt = try ISO8601.parseField(input.sendAt, "send_at")
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                CampaignDTO(
                    try CampaignOperations.create(
                        connection, principal, accountID: id,
                        input: .init(
                            name: input.name, listID: input.listId, template: input.template,
                            mediaURLs: input.mediaUrls ?? [], sendAt: sendAt)), counts: [:])
            }
        }
        router.get("/v1/accounts/:id/campaigns") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let after = try Cursor.decodeKey(request, UUID.init(uuidString:))
            return try await access.read(context) { connection, principal in
                let rows = try CampaignOperations.campaigns(connection, principal, accountID: id, afterID: after, limit: limit + 1)
                return Page(rows: rows, limit: limit, item: { CampaignDTO($0, counts: [:]) }, cursor: { [$0.id.lower] })
            }
        }
        router.get("/v1/campaigns/:id") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                let (campaign, counts) = try CampaignOperations.campaign(connection, principal, campaignID: id)
                return CampaignDTO(campaign, counts: counts)
            }
        }
        router.get("/v1/campaigns/:id/quote") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                QuoteDTO(campaignId: id.lower, try CampaignOperations.quote(connection, principal, campaignID: id))
            }
        }
        router.post("/v1/campaigns/:id/test") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(TestDispatch.self, from: body, fields: TestDispatch.fields)
            return try await access.mutate(request, context, body: body, status: .accepted) { connection, principal, operation in
                MessageDTO(try CampaignOperations.test(connection, principal, operation, campaignID: id, to: input.to))
            }
        }
        router.post("/v1/campaigns/:id/confirm") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Confirm.self, from: body, fields: Confirm.fields)
            let sendAt = try ISO8601.parseField(input.sendAt, "send_at")
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                CampaignDTO(
                    try CampaignOperations.confirm(
                        connection, principal, operation, campaignID: id, acceptTerms: input.acceptTerms, sendAt: sendAt),
                    counts: [:])
            }
        }
        router.post("/v1/campaigns/:id/cancel") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            _ = try Body.decode(CreditsController.Empty.self, from: body, fields: [])
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                let (campaign, cancelled) = try CampaignOperations.cancel(connection, principal, operation, campaignID: id)
                return CampaignDTO(campaign, counts: ["cancelled_now": cancelled])
            }
        }
        router.get("/v1/campaigns/:id/recipients") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let after = try Cursor.decodeKey(request) { Int($0) }
            return try await access.read(context) { connection, principal in
                let rows = try CampaignOperations.recipients(
                    connection, principal, campaignID: id, afterPosition: after, limit: limit + 1)
                return Page(rows: rows, limit: limit, item: RecipientDTO.init, cursor: { [String($0.position)] })
            }
        }
    }
}

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
