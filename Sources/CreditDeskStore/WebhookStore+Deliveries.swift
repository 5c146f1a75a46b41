import CreditDeskCore
import CreditDeskDB
import Foundation

/// A delivery leased to this daemon, with everything sending it needs.
package struct ClaimedDelivery: Sendable, Equatable {
    package let tenantID: UUID
    package let id: Int64
    package let endpointID: UUID
    package let accountID: UUID
    package let attempts: Int
    package let url: String
    package let secretSealed: [UInt8]
    package let secretKeyID: String
    package let eventID: UUID
    package let eventType: String
    package let eventCreatedAt: Date
    /// When the database leased it: the attempt's start, on the database's clock.
    package let attemptStartedAt: Date
    /// The JSON envelope (id, type, created_at, account_id, data), the same at every attempt.
    package let body: String
}

/// The delivery queue and log.
extension WebhookStore {
    /// Due deliveries, at most `$1`, leased for `$2` seconds: only the earliest pending one of
    /// each endpoint and object (order per object), and no more per endpoint than its
    /// concurrency leaves free (leases not yet over count as in flight). The ranking looks at
    /// the 2,000 earliest due deliveries, which bounds a claim's cost under a backlog.
    static let claimDeliveries = """
        WITH ready AS (
            SELECT d.tenant_id, d.id, d.endpoint_id,
                   row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rank
            FROM (SELECT * FROM webhook_deliveries d
                  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                    AND (d.locked_until IS NULL OR d.locked_until < now())
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                                    WHERE p.endpoint_id = d.endpoint_id AND p.object_id = d.object_id
                                      AND p.status = 'pending' AND p.id < d.id)
                  ORDER BY d.next_attempt_at, d.id LIMIT 2000) d
        ), allowed AS (
            SELECT r.tenant_id, r.id FROM ready r
            JOIN webhook_endpoints e ON e.tenant_id = r.tenant_id AND e.id = r.endpoint_id
            WHERE e.enabled AND r.rank <= e.max_concurrency - (
                SELECT count(*) FROM webhook_deliveries f
                WHERE f.endpoint_id = r.endpoint_id AND f.status = 'pending' AND f.locked_until >= now())
        ), chosen AS (
            SELECT d.tenant_id, d.id FROM webhook_deliveries d
            JOIN allowed a ON a.tenant_id = d.tenant_id AND a.id = d.id
            ORDER BY d.next_attempt_at, d.id LIMIT $1
            FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE webhook_deliveries d
        SET locked_until = now() + make_interval(secs => $2), attempts = d.attempts + 1, last_attempt_at = now()
        FROM chosen c, webhook_endpoints e, webhook_events ev
        WHERE d.tenant_id = c.tenant_id AND d.id = c.id AND e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
          AND ev.tenant_id = d.tenant_id AND ev.id = d.event_id
        RETURNING d.tenant_id, d.id, d.endpoint_id, e.account_id, d.attempts, e.url, e.secret_sealed, e.secret_key_id,
                  ev.id AS event_id, ev.type AS event_type, ev.created_at AS event_created_at, d.last_attempt_at,
                  jsonb_build_object('id', ev.id, 'type', ev.type, 'created_at', webhook_time(ev.created_at),
                                     'account_id', ev.account_id, 'data', ev.data)::text AS body
        """
    static let recordDelivered = """
        UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), locked_until = NULL,
            last_status_code = $3, last_answer = $4, last_latency_ms = $5
        WHERE tenant_id = $1 AND id = $2
        """
    static let clearFailing = """
        UPDATE webhook_endpoints SET failing_since = NULL WHERE tenant_id = $1 AND id = $2 AND failing_since IS NOT NULL
        """
    /// No next attempt ($6 NULL): the delivery has failed for good.
    static let recordFailed = """
        UPDATE webhook_deliveries SET status = CASE WHEN $6::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
            next_attempt_at = coalesce($6::timestamptz, next_attempt_at), locked_until = NULL,
            last_status_code = $3, last_answer = $4, last_latency_ms = $5
        WHERE tenant_id = $1 AND id = $2
        """
    static let markFailing = """
        UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $3)
        WHERE tenant_id = $1 AND id = $2 RETURNING failing_since, enabled
        """
    static let disableEndpoint = """
        UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND enabled RETURNING id
        """
    static let deliveryColumns = """
        d.id, d.endpoint_id, d.event_id, ev.type AS event_type, d.object_id, d.status, d.attempts,
        CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.last_attempt_at,
        d.last_status_code, d.last_answer, d.last_latency_ms, d.delivered_at, d.created_at
        """
    /// Newest first, after the delivery $3 (a keyset cursor), optionally of one status.
    static let selectDeliveries = """
        SELECT \(deliveryColumns) FROM webhook_deliveries d
        JOIN webhook_events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
        WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND ($3::bigint IS NULL OR d.id < $3) AND ($4::text IS NULL OR d.status = $4)
        ORDER BY d.id DESC LIMIT $5
        """
    /// The event of delivery $3 queued again for its endpoint, as a new delivery at the end of
    /// its object's order.
    static let insertRedelivery = """
        WITH again AS (
            INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, object_id)
            SELECT tenant_id, endpoint_id, event_id, object_id FROM webhook_deliveries
            WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3
            RETURNING *
        )
        SELECT \(deliveryColumns) FROM again d JOIN webhook_events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
        """

    package static func claim(_ connection: PostgresConnection, limit: Int, leaseSeconds: Int) throws -> [ClaimedDelivery] {
        try connection.execute(claimDeliveries, [Int64(limit), Int64(leaseSeconds)]).rows.map { row in
            ClaimedDelivery(
                tenantID: try row.decode(UUID.self, "tenant_id"), id: try row.decode(Int64.self, "id"),
                endpointID: try row.decode(UUID.self, "endpoint_id"), accountID: try row.decode(UUID.self, "account_id"),
                attempts: Int(try row.decode(Int64.self, "attempts")), url: try row.decode(String.self, "url"),
                secretSealed: try row.decode([UInt8].self, "secret_sealed"),
                secretKeyID: try row.decode(String.self, "secret_key_id"), eventID: try row.decode(UUID.self, "event_id"),
                eventType: try row.decode(String.self, "event_type"),
                eventCreatedAt: try row.decode(Date.self, "event_created_at"),
                attemptStartedAt: try row.decode(Date.self, "last_attempt_at"), body: try row.decode(String.self, "body"))
        }
    }

    /// What an attempt got: the status (nil when no answer came), the start of the answer or
    /// the transport's error, and the time it took.
    package struct Attempt: Sendable, Equatable {
        package let statusCode: Int?
        package let answer: String
        package let latencyMilliseconds: Int

        package init(statusCode: Int?, answer: String, latencyMilliseconds: Int) {
            self.statusCode = statusCode
            self.answer = String(answer.prefix(500))
            self.latencyMilliseconds = latencyMilliseconds
        }
    }

    package static func recordDelivered(_ connection: PostgresConnection, _ delivery: ClaimedDelivery, _ attempt: Attempt) throws {
        try connection.execute(
            recordDelivered,
            [delivery.tenantID, delivery.id, attempt.statusCode.map(Int64.init), attempt.answer, Int64(attempt.latencyMilliseconds)])
        try connection.execute(clearFailing, [delivery.tenantID, delivery.endpointID])
    }

    /// Records a failed attempt, to be tried again at `nextAttemptAt` (nil: never); answers
    /// since when the endpoint has been failing, if it is still enabled.
    package static func recordFailed(
        _ connection: PostgresConnection, _ delivery: ClaimedDelivery, _ attempt: Attempt, nextAttemptAt: Date?
    ) throws -> Date? {
        try connection.execute(
            recordFailed,
            [
                delivery.tenantID, delivery.id, attempt.statusCode.map(Int64.init), attempt.answer,
                Int64(attempt.latencyMilliseconds), nextAttemptAt,
            ])
        let row = try connection.execute(markFailing, [delivery.tenantID, delivery.endpointID, delivery.attemptStartedAt]).first
        guard let row, try row.decode(Bool.self, "enabled") else { return nil }
        return try row.decode(Date?.self, "failing_since")
    }

    /// Disables an enabled endpoint; false when it was not enabled (nothing changed).
    package static func disable(_ connection: PostgresConnection, tenantID: UUID, endpointID: UUID, reason: String) throws -> Bool {
        try connection.execute(disableEndpoint, [tenantID, endpointID, reason]).first != nil
    }

    package static func deliveries(
        _ connection: PostgresConnection, _ endpoint: WebhookEndpointRecord, status: WebhookDeliveryStatus?, beforeID: Int64?,
        limit: Int
    ) throws -> [WebhookDeliveryRecord] {
        try connection.execute(selectDeliveries, [endpoint.tenantID, endpoint.id, beforeID, status?.rawValue, Int64(limit)])
            .rows.map(decodeDelivery)
    }

    /// Queues delivery `deliveryID`'s event again; nil when the endpoint has no such delivery.
    package static func redeliver(_ connection: PostgresConnection, _ endpoint: WebhookEndpointRecord, deliveryID: Int64) throws
        -> WebhookDeliveryRecord?
    {
        try connection.execute(insertRedelivery, [endpoint.tenantID, endpoint.id, deliveryID]).first.map(decodeDelivery)
    }

    static func decodeDelivery(_ row: PostgresRow) throws -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(
            id: try row.decode(Int64.self, "id"), endpointID: try row.decode(UUID.self, "endpoint_id"),
            eventID: try row.decode(UUID.self, "event_id"), eventType: try row.decode(String.self, "event_type"),
            objectID: try row.decode(String.self, "object_id"),
            status: WebhookDeliveryStatus(rawValue: try row.decode(String.self, "status")) ?? .pending,
            attempts: Int(try row.decode(Int64.self, "attempts")), nextAttemptAt: try row.decode(Date?.self, "next_attempt_at"),
            lastAttemptAt: try row.decode(Date?.self, "last_attempt_at"),
            lastStatusCode: try row.decode(Int64?.self, "last_status_code").map(Int.init),
            lastAnswer: try row.decode(String?.self, "last_answer"),
            lastLatencyMilliseconds: try row.decode(Int64?.self, "last_latency_ms").map(Int.init),
            deliveredAt: try row.decode(Date?.self, "delivered_at"), createdAt: try row.decode(Date.self, "created_at"))
    }
}
