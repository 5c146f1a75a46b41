import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Gateway connections, sending, listing, cancelling, opt-outs, rates, and the gateways'
/// callbacks (delivery reports and inbound messages).
struct MessagingController {
    let access: Access
    let settings: MessagingSettings

    struct CreateGateway: Decodable {
        static let fields: Set<String> = [
            "provider", "name", "base_url", "username", "password", "sender", "home_prefix", "user_id",
        ]
        let provider: GatewayProvider
        let name: String
        let baseUrl: String
        let username: String
        let password: String
        let sender: String
        let homePrefix: String
        let userId: UUID?
    }

    struct SendMessage: Decodable {
        static let fields: Set<String> = ["to", "text", "media_urls", "send_at"]
        let to: String
        let text: String?
        let mediaUrls: [String]?
        let sendAt: String?
    }

    /// Either numbers, or a contact list whose members' mobiles are all unsubscribed.
    struct OptOuts: Decodable {
        static let fields: Set<String> = ["phones", "list_id"]
        let phones: [String]?
        let listId: UUID?
    }

    struct ReplyRouting: Decodable {
        static let fields: Set<String> = ["channel", "mobile", "email"]
        let channel: ReplyChannel
        let mobile: String?
        let email: String?
    }

    struct Rate: Decodable {
        static let fields: Set<String> = ["credits_per_segment"]
        let creditsPerSegment: Int64
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        addGatewayRoutes(to: router)
        addMessageRoutes(to: router)
        addOptOutRoutes(to: router)
        addCallbackRoutes(to: router)
        router.put("/v1/users/:id/reply-routing") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(ReplyRouting.self, from: body, fields: ReplyRouting.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                ReplyRoutingDTO(
                    try MessagingOperations.setReplyRouting(
                        connection, principal, userID: id, channel: input.channel, mobile: input.mobile, email: input.email))
            }
        }
        router.get("/v1/users/:id/reply-routing") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                ReplyRoutingDTO(try MessagingOperations.replyRouting(connection, principal, userID: id))
            }
        }
    }

    func addGatewayRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/gateways") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateGateway.self, from: body, fields: CreateGateway.fields)
            guard let box = settings.secretBox else {
                throw APIError(
                    .serviceUnavailable, code: "secret_key_missing",
                    message: "no CREDITDESK_SECRET_KEY is configured, so credentials cannot be stored")
            }
            // The password is part of the body: fingerprint without it, so it is not hashed
            // into the stored idempotency record either.
            var canonical = Array("gateway \(input.provider.rawValue) \(input.name) \(input.baseUrl) ".utf8)
            canonical += Array("\(input.username) \(input.sender) \(input.homePrefix) \(input.userId?.lower ?? "-")".utf8)
            canonical += Digest.sha256(Array(input.password.utf8))
            return try await access.mutate(request, context, body: [], canonicalBody: canonical, status: .created) {
                connection, principal, _ in
                let (gateway, token) = try MessagingOperations.createGateway(
                    connection, principal, accountID: id,
                    input: .init(
                        provider: input.provider, name: input.name, baseURL: input.baseUrl, username: input.username,
                        password: input.password, sender: input.sender, homePrefix: input.homePrefix, userID: input.userId),
                    box: box)
                return GatewayDTO(gateway, settings: settings, callbackToken: token)
            }
        }
        router.get("/v1/accounts/:id/gateways") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                Page(
                    items: try MessagingOperations.gateways(connection, principal, accountID: id).map {
                        GatewayDTO($0, settings: settings, callbackToken: nil)
                    }, nextCursor: nil)
            }
        }
        router.put("/v1/accounts/:id/rates/:prefix") { request, context in
            let id = try Parameters.uuid(context, "id")
            let prefix = context.parameters.get("prefix") ?? ""
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Rate.self, from: body, fields: Rate.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                try MessagingOperations.setRate(
                    connection, principal, resellerID: id, prefix: prefix, creditsPerSegment: input.creditsPerSegment)
                return RateDTO(resellerId: id.lower, prefix: prefix, creditsPerSegment: input.creditsPerSegment)
            }
        }
    }

    func addMessageRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/messages") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(SendMessage.self, from: body, fields: SendMessage.fields)
            let sendAt = try ISO8601.parseField(input.sendAt, "send_at")
            return try await access.mutate(request, context, body: body, status: .accepted) { connection, principal, operation in
                MessageDTO(
                    try MessagingOperations.send(
                        connection, principal, operation, accountID: id,
                        input: .init(to: input.to, text: input.text ?? "", mediaURLs: input.mediaUrls ?? [], sendAt: sendAt)))
            }
        }
        router.get("/v1/accounts/:id/messages") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let direction = try Parameters.enumValue(request, "direction", MessageDirection.self)
            let status = try Parameters.enumValue(request, "status", MessageStatus.self)
            let phone = Parameters.typed(request, "phone")
            let after = try Cursor.decodeKey(request, UUID.init(uuidString:))
            return try await access.read(context) { connection, principal in
                let rows = try MessagingOperations.messages(
                    connection, principal, accountID: id, direction: direction, status: status, phone: phone,
                    afterID: after, limit: limit + 1)
                return Page(rows: rows, limit: limit, item: MessageDTO.init, cursor: { [$0.id.lower] })
            }
        }
        router.post("/v1/messages/:id/cancel") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            _ = try Body.decode(CreditsController.Empty.self, from: body, fields: [])
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                MessageDTO(try MessagingOperations.cancel(connection, principal, operation, messageID: id))
            }
        }
    }

    func addOptOutRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/opt-outs") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(OptOuts.self, from: body, fields: OptOuts.fields)
            guard (input.phones == nil) != (input.listId == nil) else {
                throw APIError.badRequest(
                    code: "invalid_field", "give either phones or list_id", details: ["field": "phones"])
            }
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                if let listID = input.listId {
                    return OptOutBatchDTO(
                        accountId: id.lower,
                        phones: try ContactOperations.optOutList(connection, principal, accountID: id, listID: listID))
                }
                return OptOutBatchDTO(
                    accountId: id.lower,
                    phones: try MessagingOperations.addOptOuts(connection, principal, accountID: id, phones: input.phones ?? []))
            }
        }
        router.get("/v1/accounts/:id/opt-outs") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let after = try Cursor.decodeKey(request) { $0 }
            return try await access.read(context) { connection, principal in
                let rows = try MessagingOperations.optOuts(connection, principal, accountID: id, after: after, limit: limit + 1)
                return Page(
                    rows: rows, limit: limit, item: { OptOutDTO(phone: $0.phone, source: $0.source, createdAt: $0.createdAt) },
                    cursor: { [$0.phone] })
            }
        }
        router.delete("/v1/accounts/:id/opt-outs/:phone") { request, context in
            let id = try Parameters.uuid(context, "id")
            let phone = context.parameters.get("phone")?.removingPercentEncoding ?? ""
            return try await access.mutate(request, context, body: []) { connection, principal, _ in
                try MessagingOperations.removeOptOut(connection, principal, accountID: id, phone: phone)
                return OptOutBatchDTO(accountId: id.lower, phones: [phone])
            }
        }
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
