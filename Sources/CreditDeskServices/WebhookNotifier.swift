import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox: claims due deliveries (earliest per endpoint and object, within each
/// endpoint's concurrency), signs and posts each on threads of its own (a slow or dead
/// receiver holds one of them for at most the timeout, never a credit or send path), and
/// records each outcome: 2xx delivered; anything else tried again with backoff until the
/// event is a day old. An endpoint failing for a day is disabled and its admins told by
/// email. It also marks campaigns finished and writes their `campaign.finished`, and evaluates
/// the low-balance alerts measured in days left. Several
/// daemons share the queue (SKIP LOCKED); one that dies leaves its deliveries to be claimed
/// again when their lease ends, so a receiver may see an event twice (the event id says so).
/// See docs/ARCHITECTURE.md, "Webhooks".
package struct WebhookNotifier: Service {
    let pool: DatabasePool
    let settings: MessagingSettings
    let logger: Logger
    var batchSize = 32
    var campaignCheckInterval: Duration = .seconds(2)

    package init(pool: DatabasePool, settings: MessagingSettings, logger: Logger) {
        self.pool = pool
        self.settings = settings
        self.logger = logger
    }

    var options: WebhookOptions { settings.webhooks }
    /// Longer than an attempt can take, so a lease ends only when its holder is gone.
    var leaseSeconds: Int { options.timeoutMilliseconds / 1000 * 2 + 10 }

    package func run() async throws {
        let senders = SenderThreads(count: options.senders, timeoutMilliseconds: options.timeoutMilliseconds)
        defer { senders.shutdown() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await finishCampaigns() }
            group.addTask { await deliver(senders) }
        }
    }

    /// Claims and delivers until shutdown; the deliveries in hand are finished first.
    func deliver(_ senders: SenderThreads) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var claimed = 0
            do {
                claimed = try await runOnce(senders)
            } catch {
                logger.warning("webhook delivery cycle failed", metadata: ["error": "\(error)"])
            }
            if claimed == 0 { try? await Task.sleep(for: options.pollInterval) }
        }
    }

    /// One batch: answers how many deliveries it claimed.
    @discardableResult
    package func runOnce(_ senders: SenderThreads) async throws -> Int {
        let batch = try await pool.withTransaction { [batchSize, leaseSeconds] in
            try WebhookStore.claim($0, limit: batchSize, leaseSeconds: leaseSeconds)
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in batch { group.addTask { await attempt(delivery, senders) } }
        }
        return batch.count
    }

    func attempt(_ delivery: ClaimedDelivery, _ senders: SenderThreads) async {
        let outcome = await post(delivery, senders)
        do {
            try await record(delivery, outcome)
        } catch {
            // Left leased: claimed again when the lease ends.
            logger.warning("webhook outcome not recorded", metadata: ["delivery.id": "\(delivery.id)", "error": "\(error)"])
        }
    }

    /// Signs and posts the delivery; answers the attempt and whether it succeeded.
    func post(_ delivery: ClaimedDelivery, _ senders: SenderThreads) async -> (WebhookStore.Attempt, delivered: Bool) {
        guard let box = settings.box(forKeyID: delivery.secretKeyID),
            let secret = box.open(delivery.secretSealed, associatedData: Array(delivery.endpointID.lower.utf8))
        else {
            return (.init(statusCode: nil, answer: "the signing secret cannot be opened with this daemon's keys", latencyMilliseconds: 0), false)
        }
        let pins: [String]
        do {
            pins = try pinnedAddresses(delivery.url)
        } catch {
            return (.init(statusCode: nil, answer: "\(error)", latencyMilliseconds: 0), false)
        }
        let body = Array(delivery.body.utf8)
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = [
            ("Content-Type", "application/json"), ("User-Agent", "CreditDesk-Webhooks/1"),
            ("CreditDesk-Event-Id", delivery.eventID.lower), ("CreditDesk-Event-Type", delivery.eventType),
            ("CreditDesk-Delivery", String(delivery.id)), ("CreditDesk-Timestamp", String(timestamp)),
            ("CreditDesk-Signature", WebhookSignature.sign(secret: String(decoding: secret, as: UTF8.self), timestamp: timestamp, body: body)),
        ]
        return await senders.run { [url = delivery.url] client in
            let started = ContinuousClock.now
            let result = Result { () throws(HTTPClientError) in try client.send(method: "POST", url: url, headers: headers, body: body, resolve: pins) }
            let elapsed = ContinuousClock.now - started
            let milliseconds = Int(elapsed.seconds * 1000)
            switch result {
            case .success(let response):
                let answer = String(decoding: response.body.prefix(500), as: UTF8.self)
                return (.init(statusCode: response.status, answer: answer, latencyMilliseconds: milliseconds), (200..<300).contains(response.status))
            case .failure(let error):
                return (.init(statusCode: nil, answer: error.description, latencyMilliseconds: milliseconds), false)
            }
        }
    }

    /// The addresses the delivery may connect to, pinned for libcurl: every address the name
    /// resolves to must be public (unless the operator allows private ones: then nothing is pinned).
    func pinnedAddresses(_ url: String) throws(DomainError) -> [String] {
        let target = try WebhookTarget.parse(url, allowPrivate: options.allowPrivateAddresses)
        guard !options.allowPrivateAddresses, AddressRange(target.host) == nil else { return [] }
        let addresses = AddressResolver.addresses(of: target.host)
        guard !addresses.isEmpty else { throw DomainError.invalid("url", "\(target.host) does not resolve") }
        guard addresses.allSatisfy(PublicAddress.isPublic) else {
            throw DomainError.invalid("url", "\(target.host) resolves to a loopback, link-local or private address")
        }
        return ["\(target.host):\(target.port):" + addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")]
    }

    func record(_ delivery: ClaimedDelivery, _ outcome: (WebhookStore.Attempt, delivered: Bool)) async throws {
        let (attempt, delivered) = outcome
        let retry = options.retry
        let disabled = try await pool.withTransaction { connection -> Bool in
            if delivered {
                try WebhookStore.recordDelivered(connection, delivery, attempt)
                return false
            }
            let finished = delivery.attemptStartedAt.addingTimeInterval(Double(attempt.latencyMilliseconds) / 1000)
            let next = retry.nextAttempt(afterAttempt: delivery.attempts, eventCreatedAt: delivery.eventCreatedAt, now: finished)
            guard let failingSince = try WebhookStore.recordFailed(connection, delivery, attempt, nextAttemptAt: next),
                finished.timeIntervalSince(failingSince) >= retry.disableAfterSeconds
            else { return false }
            return try WebhookStore.disable(
                connection, tenantID: delivery.tenantID, endpointID: delivery.endpointID,
                reason: "every delivery failed since \(ISO8601.format(failingSince)); last: \(attempt.answer)")
        }
        Telemetry.webhookDelivery(delivered ? "delivered" : "failed")
        if disabled { await tellAdmins(delivery, attempt) }
    }

    /// Emails the endpoint's account's admins that it was disabled (best effort: logged if not).
    func tellAdmins(_ delivery: ClaimedDelivery, _ attempt: WebhookStore.Attempt) async {
        logger.warning("webhook endpoint disabled", metadata: ["webhook.id": "\(delivery.endpointID.lower)"])
        guard let mailer = settings.mailer else { return }
        do {
            let admins = try await pool.withConnection { try UserStore.adminEmails($0, accountIDs: [delivery.accountID]) }
            let body = """
                Every delivery to the webhook \(delivery.endpointID.lower) (\(delivery.url)) has failed for a day, \
                so it has been disabled. Its undelivered events are kept: enable it again once the receiver \
                answers, and they are sent.

                Last answer: \(attempt.answer)
                """
            for address in admins {
                try await runBlocking { try mailer.send(to: address, subject: "CreditDesk: webhook disabled", body: body) }
            }
        } catch {
            logger.error("could not tell the admins a webhook was disabled", metadata: ["error": "\(error)"])
        }
    }

    /// Every `campaignCheckInterval`: confirmed campaigns with nothing left to send are marked
    /// finished, and their `campaign.finished` written in the same transaction.
    /// Once a minute (every 30th round) it also evaluates the alerts measured in days left.
    func finishCampaigns() async {
        var round = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await checkCampaigns()
                if round % 30 == 0 { _ = try await pool.withTransaction { try BalanceRuleOperations.checkDaysAlerts($0) } }
            } catch {
                logger.warning("campaign or balance check failed", metadata: ["error": "\(error)"])
            }
            round += 1
            try? await Task.sleep(for: campaignCheckInterval)
        }
    }

    /// One round of `finishCampaigns`: answers the campaigns it marked finished.
    @discardableResult
    package func checkCampaigns() async throws -> [UUID] {
        try await pool.withTransaction { connection in
            let finished = try CampaignStore.finishCampaigns(connection, limit: 200)
            try WebhookStore.emitCampaignsFinished(connection, ids: finished)
            return finished
        }
    }
}
