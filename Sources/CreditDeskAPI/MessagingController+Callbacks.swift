import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

extension MessagingController {
    /// Gateways call these without an API key: they prove themselves with the connection's
    /// callback token (inbound) or the per-message signature the dispatcher put in the URL.
    func addCallbackRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/callbacks/kannel/:gateway/dlr") { request, context in
            let gatewayID = try Parameters.uuid(context, "gateway")
            guard let messageID = Parameters.query(request, "message").flatMap(UUID.init(uuidString:)),
                let status = Parameters.query(request, "status").flatMap(RequestParsing.int64).flatMap(Int.init(exactly:))
            else { throw APIError.badRequest(code: "invalid_parameter", "message and status are required") }
            try await deliveryReport(request, gatewayID: gatewayID, messageID: messageID, status: status)
            return Response(status: .ok)
        }
        router.post("/v1/callbacks/twilio/:gateway/status") { request, context in
            let gatewayID = try Parameters.uuid(context, "gateway")
            let form = try await formBody(request, context)
            guard let messageID = Parameters.query(request, "message").flatMap(UUID.init(uuidString:)) else {
                throw APIError.badRequest(code: "invalid_parameter", "message is required")
            }
            // Twilio's MessageStatus mapped onto Kannel's status bits.
            let status: Int =
                switch form["MessageStatus"]?.first ?? "" {
                case "delivered": MessagingOperations.DeliveryStatus.delivered.rawValue
                case "failed", "undelivered": MessagingOperations.DeliveryStatus.failed.rawValue
                default: MessagingOperations.DeliveryStatus.smscAccepted.rawValue
                }
            try await deliveryReport(request, gatewayID: gatewayID, messageID: messageID, status: status)
            return Response(status: .ok)
        }
        router.get("/v1/callbacks/kannel/:gateway/mo") { request, context in
            let gatewayID = try Parameters.uuid(context, "gateway")
            guard let from = Parameters.query(request, "from") else {
                throw APIError.badRequest(code: "invalid_parameter", "from is required")
            }
            let text = Parameters.typed(request, "text") ?? ""
            try await inbound(request, gatewayID: gatewayID, from: from, text: text, media: [], gatewayMessageID: Parameters.query(request, "id"))
            return Response(status: .ok)
        }
        router.post("/v1/callbacks/twilio/:gateway/inbound") { request, context in
            let gatewayID = try Parameters.uuid(context, "gateway")
            let form = try await formBody(request, context)
            guard let from = form["From"]?.first else {
                throw APIError.badRequest(code: "invalid_parameter", "From is required")
            }
            let count = max(0, min(RequestParsing.int64(form["NumMedia"]?.first ?? "0") ?? 0, 10))
            let media = (0..<Int(count)).compactMap { form["MediaUrl\($0)"]?.first }
            try await inbound(
                request, gatewayID: gatewayID, from: from, text: form["Body"]?.first ?? "", media: media,
                gatewayMessageID: form["MessageSid"]?.first)
            return Response(status: .ok)
        }
    }

    func deliveryReport(_ request: Request, gatewayID: UUID, messageID: UUID, status: Int) async throws {
        let signature = Parameters.query(request, "signature") ?? ""
        try await access.pool.withOperation(actorUserID: nil, requestID: "dlr") { connection, context in
            guard let gateway = try GatewayStore.connection(connection, id: gatewayID),
                Digest.constantTimeEqual(
                    signature.utf8,
                    CallbackSignature.sign(messageID: messageID, gatewayID: gatewayID, key: gateway.callbackTokenHash).utf8)
            else { throw DomainError(.unauthorized, "unknown gateway connection or wrong signature") }
            try MessagingOperations.applyDeliveryReport(
                connection, context, gateway: gateway, messageID: messageID,
                status: status)
        }
    }

    func inbound(
        _ request: Request, gatewayID: UUID, from: String, text: String, media: [String], gatewayMessageID: String?
    ) async throws {
        let token = Parameters.query(request, "token") ?? ""
        _ = try await access.pool.withOperation(actorUserID: nil, requestID: "inbound") { connection, context in
            let gateway = try MessagingOperations.authenticateCallback(connection, connectionID: gatewayID, token: token)
            return try MessagingOperations.receive(
                connection, context, gateway: gateway, from: from,
                text: text, mediaURLs: media, gatewayMessageID: gatewayMessageID)
        }
    }

    func formBody(_ request: Request, _ context: AppRequestContext) async throws -> [String: [String]] {
        RequestParsing.form(try await Body.collect(request, context))
    }
}
