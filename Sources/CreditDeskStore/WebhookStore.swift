import CreditDeskCore
import CreditDeskDB
import Foundation

package struct WebhookEndpointRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let url: String
    package let description: String?
    package let events: [WebhookEventType]
    package let enabled: Bool
    package let disabledReason: String?
    package let failingSince: Date?
    package let maxConcurrency: Int
    package let createdAt: Date
    package let updatedAt: Date

    package var settings: WebhookSettings {
        WebhookSettings(url: url, events: events, description: description, maxConcurrency: maxConcurrency, enabled: enabled)
    }
}

package enum WebhookDeliveryStatus: String, Sendable, CaseIterable {
    case pending, delivered, failed
}

/// One delivery of an event to an endpoint, as its log shows it.
package struct WebhookDeliveryRecord: Sendable, Equatable {
    package let id: Int64
    package let endpointID: UUID
    package let eventID: UUID
    package let eventType: String
    package let objectID: String
    package let status: WebhookDeliveryStatus
    package let attempts: Int
    package let nextAttemptAt: Date?
    package let lastAttemptAt: Date?
    package let lastStatusCode: Int?
    package let lastAnswer: String?
    package let lastLatencyMilliseconds: Int?
    package let deliveredAt: Date?
    package let createdAt: Date
}

/// Endpoints, the outbox and the delivery queue (sql/0020_webhooks.sql); the events are written
/// by the schema's triggers, and by `emit` for the few the services write themselves.
package enum WebhookStore {
    static let endpointColumns = """
        id, tenant_id, account_id, url, description, array_to_string(events, ',') AS events, enabled, disabled_reason,
        failing_since, max_concurrency, created_at, updated_at
        """
    static let insertEndpoint = """
        INSERT INTO webhook_endpoints (tenant_id, id, account_id, url, description, events, secret_sealed, secret_key_id,
            max_concurrency, enabled)
        VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10)
        RETURNING \(endpointColumns)
        """
    static let selectEndpoint = "SELECT \(endpointColumns) FROM webhook_endpoints WHERE id = $1"
    static let lockEndpoint = "SELECT \(endpointColumns) FROM webhook_endpoints WHERE id = $1 FOR UPDATE"
    static let selectEndpoints = """
        SELECT \(endpointColumns) FROM webhook_endpoints WHERE tenant_id = $1 AND account_id = $2 ORDER BY created_at, id
        """
    /// Enabling again clears the reason and the failure clock, so it gets a fresh 24 h.
    static let updateEndpoint = """
        UPDATE webhook_endpoints SET url = $3, description = $4, events = $5::text[], max_concurrency = $6,
            disabled_reason = CASE WHEN $7 THEN NULL ELSE coalesce(disabled_reason, 'disabled by a user') END,
            failing_since = CASE WHEN $7 AND NOT enabled THEN NULL ELSE failing_since END,
            enabled = $7, updated_at = now()
        WHERE tenant_id = $1 AND id = $2
        RETURNING \(endpointColumns)
        """
    static let deleteEndpoint = "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
    static let selectAllSecrets = "SELECT id, secret_sealed, secret_key_id FROM webhook_endpoints ORDER BY id FOR UPDATE"
    static let resealEndpoint = "UPDATE webhook_endpoints SET secret_sealed = $2, secret_key_id = $3 WHERE id = $1"
    /// Deliveries (whatever their state) and then events created before $1, at most $2 a statement;
    /// an event a later redelivery still points at stays.
    static let pruneDeliveries = """
        DELETE FROM webhook_deliveries WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM webhook_deliveries WHERE created_at < $1 LIMIT $2))
        """
    static let pruneEvents = """
        DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM webhook_events v
            WHERE v.created_at < $1
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = v.tenant_id AND d.event_id = v.id)
            LIMIT $2))
        """
    static let emitEvent = "SELECT webhook_enqueue($1, ARRAY[$2::uuid], ARRAY[$3::uuid], ARRAY[$4::text], ARRAY[$5::jsonb])"

    static func decodeEndpoint(_ row: PostgresRow) throws -> WebhookEndpointRecord {
        WebhookEndpointRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), url: try row.decode(String.self, "url"),
            description: try row.decode(String?.self, "description"),
            events: try row.decode(String.self, "events").split(separator: ",").compactMap { WebhookEventType(rawValue: String($0)) },
            enabled: try row.decode(Bool.self, "enabled"), disabledReason: try row.decode(String?.self, "disabled_reason"),
            failingSince: try row.decode(Date?.self, "failing_since"),
            maxConcurrency: Int(try row.decode(Int64.self, "max_concurrency")),
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    /// A new endpoint; `seal` seals the signing secret for the endpoint's id (the id is the
    /// associated data, so a sealed secret cannot be moved to another endpoint).
    package static func create(
        _ connection: PostgresConnection, account: AccountRecord, _ settings: WebhookSettings,
        seal: (UUID) -> (sealed: [UInt8], keyID: String)
    ) throws -> WebhookEndpointRecord {
        let id = UUID()
        let (sealed, keyID) = seal(id)
        return try decodeEndpoint(
            connection.execute(
                insertEndpoint,
                [
                    account.tenantID, id, account.id, settings.url, settings.description,
                    arrayLiteral(settings.events.map(\.rawValue)), sealed, keyID, Int64(settings.maxConcurrency),
                    settings.enabled,
                ]
            ).single())
    }

    package static func endpoint(_ connection: PostgresConnection, id: UUID, lock: Bool = false) throws -> WebhookEndpointRecord? {
        try connection.execute(lock ? lockEndpoint : selectEndpoint, [id]).first.map(decodeEndpoint)
    }

    package static func endpoints(_ connection: PostgresConnection, account: AccountRecord) throws -> [WebhookEndpointRecord] {
        try connection.execute(selectEndpoints, [account.tenantID, account.id]).rows.map(decodeEndpoint)
    }

    package static func update(
        _ connection: PostgresConnection, _ endpoint: WebhookEndpointRecord, _ settings: WebhookSettings
    ) throws -> WebhookEndpointRecord {
        try decodeEndpoint(
            connection.execute(
                updateEndpoint,
                [
                    endpoint.tenantID, endpoint.id, settings.url, settings.description,
                    arrayLiteral(settings.events.map(\.rawValue)), Int64(settings.maxConcurrency), settings.enabled,
                ]
            ).single())
    }

    /// Deletes the endpoint and its delivery log; the events stay (other endpoints may have them).
    package static func delete(_ connection: PostgresConnection, _ endpoint: WebhookEndpointRecord) throws {
        try connection.execute(deleteEndpoint, [endpoint.tenantID, endpoint.id])
    }

    /// Every endpoint's sealed secret, locked, for a key rotation.
    package static func lockAllSecrets(_ connection: PostgresConnection) throws -> [(id: UUID, sealed: [UInt8], keyID: String)] {
        try connection.execute(selectAllSecrets).rows.map {
            (try $0.decode(UUID.self, "id"), try $0.decode([UInt8].self, "secret_sealed"), try $0.decode(String.self, "secret_key_id"))
        }
    }

    package static func reseal(_ connection: PostgresConnection, id: UUID, sealed: [UInt8], keyID: String) throws {
        try connection.execute(resealEndpoint, [id, sealed, keyID])
    }

    /// Deletes up to `limit` deliveries created before `before`, or when none is left, up to
    /// `limit` such events; answers how many rows went.
    package static func prune(_ connection: PostgresConnection, before: Date, limit: Int) throws -> Int {
        let deliveries = try connection.execute(pruneDeliveries, [before, Int64(limit)]).affectedRows
        guard deliveries < limit else { return deliveries }
        return deliveries + (try connection.execute(pruneEvents, [before, Int64(limit)]).affectedRows)
    }

    /// Writes an event (`data`: a JSON object) for every endpoint of the account that wants it,
    /// in the caller's transaction; nothing when none does.
    package static func emit(
        _ connection: PostgresConnection, _ type: WebhookEventType, tenantID: UUID, accountID: UUID, objectID: String,
        data: String
    ) throws {
        try connection.execute(emitEvent, [type.rawValue, tenantID, accountID, objectID, data])
    }
}

extension WebhookStore {
    /// campaign.finished for each of the campaigns, with their messages by status.
    static let emitCampaignsFinished = """
        SELECT webhook_enqueue('campaign.finished', array_agg(c.tenant_id), array_agg(c.account_id), array_agg(c.id::text),
            array_agg(jsonb_build_object(
                'id', c.id, 'account_id', c.account_id, 'name', c.name, 'recipients', c.recipients, 'skipped', c.skipped,
                'unit', c.unit, 'credits', c.credits, 'confirmed_at', webhook_time(c.confirmed_at),
                'finished_at', webhook_time(c.finished_at),
                'messages', (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
                             FROM (SELECT status, count(*) AS n FROM messages WHERE campaign_id = c.id GROUP BY status) s))))
        FROM campaigns c WHERE c.id = ANY ($1::text::uuid[])
        HAVING count(*) > 0
        """

    package static func emitCampaignsFinished(_ connection: PostgresConnection, ids: [UUID]) throws {
        guard !ids.isEmpty else { return }
        try connection.execute(emitCampaignsFinished, [arrayLiteral(ids)])
    }
}
