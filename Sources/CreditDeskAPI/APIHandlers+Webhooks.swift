import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Webhook endpoints of an account and their delivery logs.
extension APIHandlers {
    func createWebhook(_ input: Endpoints.CreateWebhook.Input) async throws -> Endpoints.CreateWebhook.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let options = messaging.webhooks
        guard let box = messaging.secretBox else {
            throw APIError(
                .serviceUnavailable, code: "secret_key_missing",
                message: "no CREDITDESK_SECRET_KEY is configured, so signing secrets cannot be stored")
        }
        let settings = WebhookSettings(
            url: body.url, events: try body.events.map { try $0.converted() }, description: body.description,
            maxConcurrency: body.maxConcurrency ?? 4)
        let (webhook, replayed) = try await access.mutate(Components.Schemas.Webhook.self, input: body, status: .created) {
            connection, principal, operation in
            let (endpoint, secret) = try WebhookOperations.create(
                connection, principal, operation, accountID: id, settings: settings, options: options, box: box)
            return Components.Schemas.Webhook(endpoint, secret: secret)
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(webhook)))
    }

    func listWebhooks(_ input: Endpoints.ListWebhooks.Input) async throws -> Endpoints.ListWebhooks.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            .init(items: try WebhookOperations.endpoints(connection, principal, accountID: id).map { .init($0) })
        })))
    }

    func getWebhook(_ input: Endpoints.GetWebhook.Input) async throws -> Endpoints.GetWebhook.Output {
        let (id, webhookID) = (input.path.id.uuid, input.path.webhookId.uuid)
        return .ok(.init(body: .json(try await access.read { connection, principal in
            .init(try WebhookOperations.endpoint(connection, principal, accountID: id, endpointID: webhookID).0)
        })))
    }

    func updateWebhook(_ input: Endpoints.UpdateWebhook.Input) async throws -> Endpoints.UpdateWebhook.Output {
        let (id, webhookID) = (input.path.id.uuid, input.path.webhookId.uuid)
        let body = switch input.body { case .json(let body): body }
        let events: [WebhookEventType]? = try body.events.map { try $0.map { try $0.converted() } }
        let options = messaging.webhooks
        let (webhook, replayed) = try await access.mutate(Components.Schemas.Webhook.self, input: body) {
            connection, principal, operation in
            let endpoint = try WebhookOperations.update(
                connection, principal, operation, accountID: id, endpointID: webhookID, options: options
            ) { settings in
                if let url = body.url { settings.url = url }
                if let events { settings.events = events }
                if let description = body.description { settings.description = description.isEmpty ? nil : description }
                if let maxConcurrency = body.maxConcurrency { settings.maxConcurrency = maxConcurrency }
                if let enabled = body.enabled { settings.enabled = enabled }
            }
            return Components.Schemas.Webhook(endpoint)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(webhook)))
    }

    func deleteWebhook(_ input: Endpoints.DeleteWebhook.Input) async throws -> Endpoints.DeleteWebhook.Output {
        let (id, webhookID) = (input.path.id.uuid, input.path.webhookId.uuid)
        let (webhook, replayed) = try await access.mutate(Components.Schemas.Webhook.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.Webhook(
                try WebhookOperations.delete(connection, principal, operation, accountID: id, endpointID: webhookID))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(webhook)))
    }

    func listWebhookDeliveries(_ input: Endpoints.ListWebhookDeliveries.Input) async throws
        -> Endpoints.ListWebhookDeliveries.Output
    {
        let (id, webhookID) = (input.path.id.uuid, input.path.webhookId.uuid)
        let limit = try Parameters.limit(input.query.limit)
        let before = try Cursor.decodeKey(input.query.cursor) { Int64($0) }
        let status: WebhookDeliveryStatus? = try input.query.status.converted()
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try WebhookOperations.deliveries(
                connection, principal, accountID: id, endpointID: webhookID, status: status, beforeID: before, limit: limit + 1)
            return Components.Schemas.WebhookDeliveryPage(
                rows: rows, limit: limit, item: Components.Schemas.WebhookDelivery.init, cursor: { [String($0.id)] })
        })))
    }

    func redeliverWebhook(_ input: Endpoints.RedeliverWebhook.Input) async throws -> Endpoints.RedeliverWebhook.Output {
        let (id, webhookID) = (input.path.id.uuid, input.path.webhookId.uuid)
        let deliveryID = try Parameters.positive(input.path.deliveryId, "delivery_id")
        let (delivery, replayed) = try await access.mutate(
            Components.Schemas.WebhookDelivery.self, input: Optional<String>.none, status: .accepted
        ) { connection, principal, _ in
            Components.Schemas.WebhookDelivery(
                try WebhookOperations.redeliver(
                    connection, principal, accountID: id, endpointID: webhookID, deliveryID: deliveryID))
        }
        return .accepted(.init(headers: .init(idempotentReplayed: replayed), body: .json(delivery)))
    }
}

extension Components.Schemas.WebhookDeliveryPage: ContractPage {}

extension Components.Schemas.Webhook {
    /// `secret` is shown once, in the answer that created the endpoint.
    init(_ endpoint: WebhookEndpointRecord, secret: String? = nil) {
        self.init(
            id: endpoint.id.objectID, accountId: endpoint.accountID.objectID, url: endpoint.url,
            description: endpoint.description, events: endpoint.events.map { .init(rawValue: $0.rawValue)! },
            enabled: endpoint.enabled, disabledReason: endpoint.disabledReason, failingSince: endpoint.failingSince,
            maxConcurrency: endpoint.maxConcurrency, createdAt: endpoint.createdAt, updatedAt: endpoint.updatedAt,
            secret: secret)
    }
}

/// A replay answers the endpoint without its secret.
extension Components.Schemas.Webhook: OneTimeSecretResponse {
    var withoutSecret: Self {
        var copy = self
        copy.secret = nil
        copy.secretNotReplayable = true
        return copy
    }
}

extension Components.Schemas.WebhookDelivery {
    init(_ delivery: WebhookDeliveryRecord) {
        self.init(
            id: delivery.id, webhookId: delivery.endpointID.objectID, eventId: delivery.eventID.objectID,
            eventType: Components.Schemas.WebhookEvent(rawValue: delivery.eventType) ?? .allCases[0], objectId: delivery.objectID,
            status: delivery.status.sameCase(), attempts: delivery.attempts, nextAttemptAt: delivery.nextAttemptAt,
            lastAttemptAt: delivery.lastAttemptAt, lastStatusCode: delivery.lastStatusCode, lastAnswer: delivery.lastAnswer,
            lastLatencyMs: delivery.lastLatencyMilliseconds, deliveredAt: delivery.deliveredAt, createdAt: delivery.createdAt)
    }
}
