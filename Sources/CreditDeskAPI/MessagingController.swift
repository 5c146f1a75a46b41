import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// The gateways' callbacks (delivery reports and inbound messages): plain routes, outside the
/// generated server, because gateways send them as Kannel's GET with a query or Twilio's form.
struct MessagingController {
    let access: Access
    let settings: MessagingSettings

    func addRoutes(to router: Router<AppRequestContext>) {
        addCallbackRoutes(to: router)
    }
}

struct GatewayDTO: OneTimeSecretResponse, Sendable {
    let id: String
    let accountId: String
    let userId: String?
    let provider: GatewayProvider
    let name: String
    let baseUrl: String
    let username: String
    let sender: String
    let homePrefix: String
    let createdAt: Date
    /// Shown once, at creation (not in a replay); the inbound URL below needs it appended as `token=`.
    var callbackToken: String?
    var secretNotReplayable: Bool? = nil
    let inboundUrl: String

    var withoutSecret: GatewayDTO {
        var copy = self
        copy.callbackToken = nil
        copy.secretNotReplayable = true
        return copy
    }

    init(_ gateway: GatewayConnectionRecord, settings: MessagingSettings, callbackToken: String?) {
        id = gateway.id.lower
        accountId = gateway.accountID.lower
        userId = gateway.userID?.lower
        provider = gateway.provider
        name = gateway.name
        baseUrl = gateway.baseURL
        username = gateway.username
        sender = gateway.sender
        homePrefix = gateway.homePrefix
        createdAt = gateway.createdAt
        self.callbackToken = callbackToken
        let base = "\(settings.publicBaseURL)/v1/callbacks/\(gateway.provider.rawValue)/\(gateway.id.lower)"
        inboundUrl = gateway.provider == .kannel ? "\(base)/mo" : "\(base)/inbound"
    }
}

struct MessageDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let userId: String?
    let gatewayId: String?
    let direction: MessageDirection
    let unit: CreditUnit
    let from: String
    let to: String
    let text: String
    let mediaUrls: [String]
    let segments: Int
    let credits: Int64
    let status: MessageStatus
    let failureReason: String?
    let reservationId: String?
    let sendAt: Date?
    let sentAt: Date?
    let deliveredAt: Date?
    /// Outbound: the campaign's contact; inbound: the contact the reply was linked to (null: unlinked).
    let contactId: String?
    let campaignId: String?
    /// Inbound: where the reply was forwarded ("email …", "mobile …") or why not.
    let routedTo: String?
    let createdAt: Date

    init(_ message: MessageRecord) {
        id = message.id.lower
        accountId = message.accountID.lower
        userId = message.userID?.lower
        gatewayId = message.connectionID?.lower
        direction = message.direction
        unit = message.unit
        from = message.sender
        to = message.recipient
        text = message.body
        mediaUrls = message.mediaURLs
        segments = message.segments
        credits = message.credits
        status = message.status
        failureReason = message.failureReason
        reservationId = message.reservationID?.lower
        sendAt = message.sendAt
        sentAt = message.sentAt
        deliveredAt = message.deliveredAt
        contactId = message.contactID?.lower
        campaignId = message.campaignID?.lower
        routedTo = message.routedTo
        createdAt = message.createdAt
    }
}

struct ReplyRoutingDTO: Encodable, Sendable {
    let userId: String
    let channel: ReplyChannel
    let mobile: String?
    /// The address replies are mailed to: the one set here, else the user's own.
    let email: String?

    init(_ routing: ReplyRoutingStore.ReplyRouting) {
        userId = routing.userID.lower
        channel = routing.channel
        mobile = routing.mobile
        email = routing.email
    }
}

struct RateDTO: Encodable, Sendable {
    let resellerId: String
    let prefix: String
    let creditsPerSegment: Int64
}

struct OptOutDTO: Encodable, Sendable {
    let phone: String
    let source: String
    let createdAt: Date
}

struct OptOutBatchDTO: Encodable, Sendable {
    let accountId: String
    let phones: [String]
}
