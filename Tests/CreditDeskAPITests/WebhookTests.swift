import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Logging
import Testing

/// Webhooks end to end: endpoints through the API, events written by the changes themselves,
/// delivered by the real notifier over HTTP to a local receiver that answers 200, 500, hangs or
/// closes. The notifier is driven round by round, so no test waits on a clock it cannot see.
@Suite("Webhooks")
struct WebhookTests {
    /// Retries in fractions of a second, so a test sees several.
    static let quick = WebhookRetryPolicy(firstDelaySeconds: 0.2, maxDelaySeconds: 0.4, windowSeconds: 3_600, disableAfterSeconds: 3_600)

    static func settings(
        _ retry: WebhookRetryPolicy = quick, timeoutMilliseconds: Int = 2_000, allowPrivate: Bool = true, mailer: SMTPMailer? = nil
    ) throws -> MessagingSettings {
        MessagingSettings(
            secretBox: try SecretBox(encodedKey: SecretBox.generateKey()), mailer: mailer, publicBaseURL: "http://127.0.0.1:1",
            webhooks: WebhookOptions(
                allowPrivateAddresses: allowPrivate, retry: retry, timeoutMilliseconds: timeoutMilliseconds, senders: 4,
                pollInterval: .milliseconds(20)))
    }

    /// An endpoint on the client for `events`, made by its admin; answers its id and secret.
    static func endpoint(_ api: API, _ fixture: Fixture, _ url: String, _ events: [String]) async throws -> (id: String, secret: String) {
        let created = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/webhooks", key: fixture.keys[.clientAdmin], body: ["url": url, "events": events])
        #expect(created.status == .created, "\(created.text)")
        let webhook = try created.decode(Components.Schemas.Webhook.self)
        return (webhook.id.description, try #require(webhook.secret))
    }

    /// A transfer of `amount` SMS from the reseller to the client: one credits.changed for the client.
    static func fund(_ api: API, _ fixture: Fixture, _ amount: Int) async throws {
        let reply = try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.resellerAdmin],
            body: ["unit": "sms", "amount": amount, "to_account_id": fixture.client.id.lower])
        #expect(reply.status == .created || reply.status == .ok, "\(reply.text)")
    }

    /// A grant of `amount` SMS from the platform to the reseller.
    static func fundReseller(_ api: API, _ fixture: Fixture, _ amount: Int) async throws {
        try await api.call(
            .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
            body: ["unit": "sms", "amount": amount, "to_account_id": fixture.reseller.id.lower])
    }

    /// Runs the notifier round after round until `done` holds (at most 600 rounds of 20 ms).
    static func drain(
        _ pool: DatabasePool, _ settings: MessagingSettings, until done: () async throws -> Bool
    ) async throws {
        let notifier = WebhookNotifier(pool: pool, settings: settings, logger: Logger(label: "test"))
        let senders = SenderThreads(count: 4, timeoutMilliseconds: settings.webhooks.timeoutMilliseconds)
        defer { senders.shutdown() }
        for _ in 0..<600 {
            if try await done() { return }
            if try await notifier.runOnce(senders) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        Issue.record("the notifier did not get there")
    }

    static func envelope(_ request: WebhookReceiver.Request) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
    }

    static func count(_ pool: DatabasePool, _ table: String) async throws -> Int64 {
        try await pool.withConnection { try $0.execute("SELECT count(*) AS n FROM \(table)").single().decode(Int64.self, "n") }
    }

    @Test("the secret is shown once; each delivery is signed, verifies, carries the change and shows in the log")
    func signedDelivery() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let settings = try Self.settings()
        try await withAPI(messaging: settings) { api, fixture, pool in
            try await Self.fundReseller(api, fixture, 100)
            let path = "/v1/accounts/\(fixture.client.id.lower)/webhooks"
            let body: [String: Any] = ["url": receiver.url, "events": ["credits.changed"], "description": "CRM"]
            let first = try await api.call(.post, path, key: fixture.keys[.clientAdmin], body: body, idempotencyKey: "hook-1")
            let replay = try await api.call(.post, path, key: fixture.keys[.clientAdmin], body: body, idempotencyKey: "hook-1")
            let created = try first.decode(Components.Schemas.Webhook.self)
            let again = try replay.decode(Components.Schemas.Webhook.self)
            let secret = try #require(created.secret)
            #expect(secret.hasPrefix("whsec_") && replay.replayed && again.secret == nil && again.secretNotReplayable == true)
            #expect(again.id == created.id)
            let audit = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/audit?action=webhook.created", key: fixture.keys[.clientAdmin])
            #expect(audit.text.contains(receiver.url) && !audit.text.contains(secret))

            try await Self.fund(api, fixture, 10)
            try await Self.drain(pool, settings) { receiver.requests.count >= 1 }
            let request = try #require(receiver.requests.first)
            let timestamp = try #require(request.header("CreditDesk-Timestamp"))
            let signature = try #require(request.header("CreditDesk-Signature"))
            #expect(WebhookSignature.verify(secret: secret, timestamp: timestamp, signature: signature, body: request.body, now: Date()))
            #expect(!WebhookSignature.verify(secret: secret + "x", timestamp: timestamp, signature: signature, body: request.body, now: Date()))
            // A replay captured now and sent ten minutes later is refused.
            #expect(!WebhookSignature.verify(secret: secret, timestamp: timestamp, signature: signature, body: request.body, now: Date().addingTimeInterval(600)))
            let envelope = try Self.envelope(request)
            let data = try #require(envelope["data"] as? [String: Any])
            let balance = try #require(data["balance"] as? [String: Any])
            #expect(envelope["type"] as? String == "credits.changed" && request.header("CreditDesk-Event-Id") == envelope["id"] as? String)
            #expect(data["amount"] as? Int == 10 && data["kind"] as? String == "transfer" && balance["available"] as? Int == 10)

            let log = try await api.call(.get, "\(path)/\(created.id)/deliveries", key: fixture.keys[.clientAdmin])
                .decode(Components.Schemas.WebhookDeliveryPage.self)
            let delivered = try #require(log.items.first)
            #expect(log.items.count == 1 && delivered.status == .delivered && delivered.attempts == 1 && delivered.lastStatusCode == 200)
            // Redelivered: the same event again, as a new delivery.
            let redelivered = try await api.call(
                .post, "\(path)/\(created.id)/deliveries/\(delivered.id)/redeliver", key: fixture.keys[.clientAdmin])
            #expect(redelivered.status == .accepted, "\(redelivered.text)")
            try await Self.drain(pool, settings) { receiver.requests.count >= 2 }
            #expect(receiver.requests[1].header("CreditDesk-Event-Id") == request.header("CreditDesk-Event-Id"))
        }
    }

    @Test("who may manage endpoints, and where they may point")
    func endpointRules() async throws {
        try await withAPI(messaging: try Self.settings(allowPrivate: false)) { api, fixture, _ in
            let path = "/v1/accounts/\(fixture.client.id.lower)/webhooks"
            func create(_ url: String, as actor: Fixture.Actor = .clientAdmin) async throws -> Reply {
                try await api.call(.post, path, key: fixture.keys[actor], body: ["url": url, "events": ["message.status"]])
            }
            for url in ["http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/", "http://169.254.169.254/latest",
                        "http://user:pw@example.com/", "ftp://example.com/", "https://example.com/#frag"] {
                let refused = try await create(url)
                #expect(refused.status == .badRequest && refused.errorField == "url", "\(url): \(refused.text)")
            }
            #expect(try await create("https://crm.example.com/hooks", as: .clientUser).status == .forbidden)
            #expect(try await create("https://crm.example.com/hooks", as: .otherResellerAdmin).status == .notFound)
            let made = try await create("https://crm.example.com/hooks", as: .resellerAdmin)
            #expect(made.status == .created, "\(made.text)")
            let id = made.id
            let patched = try await api.call(
                .patch, "\(path)/\(id)", key: fixture.keys[.clientAdmin], body: ["events": ["message.status", "balance.low"], "enabled": false])
            let changed = try patched.decode(Components.Schemas.Webhook.self)
            #expect(changed.events.map(\.rawValue) == ["message.status", "balance.low"] && !changed.enabled)
            #expect(changed.disabledReason == "disabled by a user")
            let list = try await api.call(.get, path, key: fixture.keys[.clientAdmin]).decode(Components.Schemas.WebhookList.self)
            #expect(list.items.count == 1 && list.items[0].secret == nil)
            #expect(try await api.call(.get, "\(path)/\(id)", key: fixture.keys[.otherResellerAdmin]).status == .notFound)
            #expect(try await api.call(.delete, "\(path)/\(id)", key: fixture.keys[.clientAdmin]).status == .ok)
            #expect(try await api.call(.get, "\(path)/\(id)", key: fixture.keys[.clientAdmin]).status == .notFound)
        }
    }

    @Test("a change that rolls back emits nothing; one that commits emits once, kept 30 days")
    func rolledBackEmitsNothing() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try await withAPI(messaging: try Self.settings()) { api, fixture, pool in
            try await Self.fundReseller(api, fixture, 100)
            _ = try await Self.endpoint(api, fixture, receiver.url, ["credits.changed"])
            struct Abandoned: Error {}
            await #expect(throws: Abandoned.self) {
                try await pool.withTransaction { connection in
                    let user = try #require(try UserStore.findUser(connection, id: fixture.users[.resellerAdmin]!))
                    let admin = Principal(
                        userID: user.id, accountID: fixture.reseller.id, tenantID: fixture.reseller.tenantID, role: .admin,
                        accountKind: .reseller)
                    _ = try Operations.applyTransfer(
                        connection, admin, OperationContext(actorUserID: user.id, requestID: "test"), fromID: fixture.reseller.id,
                        toID: fixture.client.id, unit: .sms, amount: 5, reason: nil)
                    throw Abandoned()
                }
            }
            #expect(try await Self.count(pool, "webhook_events") == 0)
            try await Self.fund(api, fixture, 5)
            let (events, deliveries) = (try await Self.count(pool, "webhook_events"), try await Self.count(pool, "webhook_deliveries"))
            #expect(events == 1 && deliveries == 1)
            // Housekeeping keeps them for 30 days, then deletes both.
            let housekeeping = Housekeeping(pool: pool, logger: Logger(label: "test"))
            #expect(try await housekeeping.sweep(now: Date()) == 0)
            #expect(try await housekeeping.sweep(now: Date().addingTimeInterval(Housekeeping.webhookRetentionSeconds + 60)) == 2)
            #expect(try await Self.count(pool, "webhook_events") == 0)
        }
    }

    @Test("failed attempts back off by the policy; a later event of the same object waits for the earlier one")
    func backoffAndOrder() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let settings = try Self.settings()
        try await withAPI(messaging: settings) { api, fixture, pool in
            try await Self.fundReseller(api, fixture, 100)
            _ = try await Self.endpoint(api, fixture, receiver.url, ["credits.changed"])
            receiver.script([.answer(500), .close])
            try await Self.fund(api, fixture, 1)
            try await Self.fund(api, fixture, 2)
            var delays: [Double] = []
            try await Self.drain(pool, settings) {
                // After each failed attempt: the next one is the policy's delay after it ended.
                let row = try await pool.withConnection { connection in
                    try connection.execute("""
                        SELECT attempts, extract(epoch FROM next_attempt_at - last_attempt_at)::float8 - last_latency_ms / 1000.0 AS delay
                        FROM webhook_deliveries WHERE status = 'pending' AND last_attempt_at IS NOT NULL AND locked_until IS NULL
                        ORDER BY id LIMIT 1
                        """).first
                }
                if let row, try row.decode(Int64.self, "attempts") == Int64(delays.count + 1) {
                    delays.append(try row.decode(Double.self, "delay"))
                }
                return receiver.requests.count >= 4
            }
            #expect(delays.count == 2)
            for (index, delay) in delays.enumerated() {
                #expect(abs(delay - Self.quick.delaySeconds(afterAttempt: index + 1)) < 0.002, "\(delays)")
            }
            let amounts = try receiver.requests.map { try #require(try Self.envelope($0)["data"] as? [String: Any])["amount"] as? Int }
            #expect(amounts == [1, 1, 1, 2])
            #expect(receiver.requests.map(\.mode) == [.answer(500), .close, .answer(200), .answer(200)])
        }
    }
}
