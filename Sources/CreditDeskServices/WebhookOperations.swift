import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Webhook endpoints of an account: managed by its admins and those of the accounts above it
/// (as gateway connections are). The signing secret is sealed at rest and shown once.
package enum WebhookOperations {
    /// The most endpoints one account may have.
    static let maxEndpointsPerAccount = 10

    package static func create(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        settings: WebhookSettings, options: WebhookOptions, box: SecretBox
    ) throws -> (WebhookEndpointRecord, secret: String) {
        let settings = try settings.validated(allowPrivate: options.allowPrivateAddresses)
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        try Operations.requireActive(account)
        guard try WebhookStore.endpoints(connection, account: account).count < maxEndpointsPerAccount else {
            throw DomainError(.conflict, "an account has at most \(maxEndpointsPerAccount) webhook endpoints")
        }
        let secret = WebhookSignature.newSecret()
        let endpoint = try WebhookStore.create(connection, account: account, settings) { id in
            (box.seal(Array(secret.utf8), associatedData: Array(id.lower.utf8)), box.keyID)
        }
        // The secret is never written down, not even hashed.
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(.webhookCreated, objectID: endpoint.id.lower, changes: .created(auditFields(endpoint.settings))))
        return (endpoint, secret)
    }

    package static func endpoints(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [WebhookEndpointRecord]
    {
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        return try WebhookStore.endpoints(connection, account: account)
    }

    /// The endpoint `endpointID` of account `accountID`, if the principal manages it; 404 otherwise.
    package static func endpoint(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, endpointID: UUID
    ) throws -> (WebhookEndpointRecord, AccountRecord) {
        let (endpoint, account) = try Operations.owned(
            connection, principal, try WebhookStore.endpoint(connection, id: endpointID), owner: \.accountID,
            for: .manageMessaging, what: "webhook")
        guard endpoint.accountID == accountID else { throw DomainError.notFound("webhook") }
        return (endpoint, account)
    }

    /// The endpoint as `endpoint` authorizes it, read again locked after the tenant's audit
    /// counter (docs/ARCHITECTURE.md, "The audit log"): the "before" of a change.
    static func lockedForChange(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, endpointID: UUID
    ) throws -> (WebhookEndpointRecord, AccountRecord) {
        let (loaded, account) = try endpoint(connection, principal, accountID: accountID, endpointID: endpointID)
        try AuditStore.lock(connection, tenantID: account.tenantID)
        guard let before = try WebhookStore.endpoint(connection, id: loaded.id, lock: true) else {
            throw DomainError.notFound("webhook")
        }
        return (before, account)
    }

    /// Changes what `change` sets; enabling a disabled endpoint resumes its pending deliveries.
    package static func update(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        endpointID: UUID, options: WebhookOptions, change: (inout WebhookSettings) -> Void
    ) throws -> WebhookEndpointRecord {
        let (before, account) = try lockedForChange(connection, principal, accountID: accountID, endpointID: endpointID)
        var settings = before.settings
        change(&settings)
        let updated = try WebhookStore.update(connection, before, try settings.validated(allowPrivate: options.allowPrivateAddresses))
        try AuditStore.appendChanges(
            connection, context, account: account, .webhookChanged, objectID: before.id.lower,
            before: auditFields(before.settings), after: auditFields(updated.settings))
        return updated
    }

    /// Deletes the endpoint; answers it as it was.
    package static func delete(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        endpointID: UUID
    ) throws -> WebhookEndpointRecord {
        let (endpoint, account) = try lockedForChange(connection, principal, accountID: accountID, endpointID: endpointID)
        try WebhookStore.delete(connection, endpoint)
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(
                .webhookDeleted, objectID: endpoint.id.lower,
                changes: AuditChange.diff(auditFields(endpoint.settings), [:])))
        return endpoint
    }

    package static func deliveries(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, endpointID: UUID,
        status: WebhookDeliveryStatus?, beforeID: Int64?, limit: Int
    ) throws -> [WebhookDeliveryRecord] {
        let (endpoint, _) = try endpoint(connection, principal, accountID: accountID, endpointID: endpointID)
        return try WebhookStore.deliveries(connection, endpoint, status: status, beforeID: beforeID, limit: limit)
    }

    /// Queues a delivery's event again (the same event id, so a receiver can tell a repeat).
    package static func redeliver(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, endpointID: UUID, deliveryID: Int64
    ) throws -> WebhookDeliveryRecord {
        let (endpoint, _) = try endpoint(connection, principal, accountID: accountID, endpointID: endpointID)
        guard let delivery = try WebhookStore.redeliver(connection, endpoint, deliveryID: deliveryID) else {
            throw DomainError.notFound("delivery")
        }
        return delivery
    }

    static func auditFields(_ settings: WebhookSettings) -> [String: AuditValue?] {
        [
            "url": .text(settings.url), "events": .list(settings.events.map(\.rawValue)),
            "description": settings.description.map(AuditValue.text), "max_concurrency": .number(Int64(settings.maxConcurrency)),
            "enabled": .flag(settings.enabled),
        ]
    }
}

/// How webhooks are delivered, from the configuration.
package struct WebhookOptions: Sendable {
    /// Endpoints may point at loopback and private addresses (`CREDITDESK_WEBHOOK_ALLOW_PRIVATE`):
    /// for tests and closed networks only.
    package var allowPrivateAddresses: Bool
    package var retry: WebhookRetryPolicy
    package var timeoutMilliseconds: Int
    /// Deliveries on the wire at once, over every endpoint (each endpoint also has its own limit).
    package var senders: Int
    package var pollInterval: Duration

    package init(
        allowPrivateAddresses: Bool = false, retry: WebhookRetryPolicy = .standard, timeoutMilliseconds: Int = 10_000,
        senders: Int = 8, pollInterval: Duration = .milliseconds(200)
    ) {
        self.allowPrivateAddresses = allowPrivateAddresses
        self.retry = retry
        self.timeoutMilliseconds = timeoutMilliseconds
        self.senders = senders
        self.pollInterval = pollInterval
    }
}
