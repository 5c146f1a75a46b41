import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import Foundation
import Logging
import ServiceLifecycle

/// Messaging configuration shared by the routes and the dispatcher.
package struct MessagingSettings: Sendable {
    /// Seals gateway credentials; nil when no key is configured (connections cannot be created).
    package var secretBox: SecretBox?
    /// During a key rotation: the key being retired, still used to open secrets sealed under it
    /// until `creditdesk gateways reencrypt` has resealed them all.
    package var previousSecretBox: SecretBox?
    /// Forwards replies by email; nil when no relay is configured (email routing then fails visibly).
    package var mailer: SMTPMailer?
    package var replyRule: ReplyRoutingRule
    /// How webhooks are delivered and where they may point.
    package var webhooks: WebhookOptions
    private let baseURL: PublicBaseURL

    /// How gateways reach this daemon's callbacks, e.g. http://sms-api.example.com.
    package var publicBaseURL: String { baseURL.value }

    package init(
        secretBox: SecretBox?, previousSecretBox: SecretBox? = nil, mailer: SMTPMailer? = nil,
        replyRule: ReplyRoutingRule = .default, publicBaseURL: String, webhooks: WebhookOptions = WebhookOptions()
    ) {
        self.webhooks = webhooks
        self.secretBox = secretBox
        self.previousSecretBox = previousSecretBox
        self.mailer = mailer
        self.replyRule = replyRule
        baseURL = PublicBaseURL(publicBaseURL)
    }

    /// The key a secret was sealed under, if this daemon has it.
    func box(forKeyID keyID: String) -> SecretBox? {
        [secretBox, previousSecretBox].compactMap { $0 }.first { $0.keyID == keyID }
    }

    /// Changes the callback base URL of a running app (tests learn their port after start).
    package func setPublicBaseURL(_ url: String) { baseURL.set(url) }

    func deliveryReportURL(_ gateway: GatewayConnectionRecord, messageID: UUID, token: String?) -> String {
        let id = messageID.uuidString.lowercased()
        let path = "\(publicBaseURL)/v1/callbacks/\(gateway.provider.rawValue)/\(gateway.id.uuidString.lowercased())"
        // The token is not stored in clear, so the dispatcher signs each URL instead: the
        // callback accepts either the connection's token or this per-message signature.
        let signature = token ?? CallbackSignature.sign(messageID: messageID, gatewayID: gateway.id, key: gateway.callbackTokenHash)
        switch gateway.provider {
        case .kannel: return "\(path)/dlr?message=\(id)&signature=\(signature)&status=%d"
        case .twilio: return "\(path)/status?message=\(id)&signature=\(signature)"
        }
    }
}

final class PublicBaseURL: @unchecked Sendable {
    private let lock = NSLock()
    private var url: String

    init(_ url: String) { self.url = Self.trimmed(url) }

    var value: String {
        lock.lock()
        defer { lock.unlock() }
        return url
    }

    func set(_ url: String) {
        lock.lock()
        self.url = Self.trimmed(url)
        lock.unlock()
    }

    static func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
}

/// Consumes the job queue: submits due messages to their gateways and records the outcome.
/// Jobs are claimed in batches with a lease (FOR UPDATE SKIP LOCKED), so several daemons, and
/// several lanes of one, work side by side; a daemon that dies mid-batch leaves its jobs to be
/// claimed again once its heartbeat has been silent for `DispatcherStore.reclaimSeconds` (or
/// the lease ends), at-least-once: the gateway may then see a message twice, at most the
/// lanes × batch size in flight per death. Submissions run on a fixed set of sender threads
/// that keep their connections alive; a batch's outcomes are recorded 32 a transaction. See
/// docs/ARCHITECTURE.md, "Sending".
package struct MessageDispatcher: Service {
    let pool: DatabasePool
    let settings: MessagingSettings
    let logger: Logger
    let pollInterval: Duration
    let batchSize: Int
    let lanes: Int
    let senderCount: Int
    let leaseSeconds = 120
    let gatewayTimeoutMilliseconds: Int
    let secrets = GatewaySecrets()
    let gates = GatewayGates()
    let membership = DispatcherMembership()

    package init(
        pool: DatabasePool, settings: MessagingSettings, logger: Logger, pollInterval: Duration = .milliseconds(250),
        batchSize: Int = 128, lanes: Int = 3, senders: Int = 16, gatewayTimeoutMilliseconds: Int = 10_000
    ) {
        self.pool = pool
        self.settings = settings
        self.logger = logger
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.lanes = lanes
        self.senderCount = senders
        self.gatewayTimeoutMilliseconds = gatewayTimeoutMilliseconds
    }

    /// Works the queue until the daemon shuts down. On a graceful shutdown it claims nothing
    /// new and returns once the jobs in hand are done (sent and recorded, or put back to be
    /// retried), so no message waits out its lease; the pool closes only after that.
    package func run() async throws {
        let senders = SenderThreads(count: senderCount, timeoutMilliseconds: gatewayTimeoutMilliseconds)
        defer { senders.shutdown() }
        await beat()
        await withTaskGroup(of: Void.self) { group in
            // Alive until the lanes are done, so the jobs in hand keep their shares.
            group.addTask { await heartbeat() }
            await withTaskGroup(of: Void.self) { lanes in
                for _ in 0..<self.lanes { lanes.addTask { await work(senders) } }
            }
            group.cancelAll()
        }
        try? await pool.withTransaction { [membership] in try DispatcherStore.leave($0, id: membership.id) }
        logger.info("dispatcher stopped: no job in hand")
    }

    /// Reports this dispatcher alive every `DispatcherMembership.beatInterval` until cancelled.
    func heartbeat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: DispatcherMembership.beatInterval)
            await beat()
        }
    }

    func beat() async {
        do {
            let alive = try await pool.withTransaction { [membership] in try DispatcherStore.beat($0, id: membership.id) }
            membership.record(alive)
        } catch {
            // Stopping, the last beat does not matter; otherwise say so (the share lapses if it goes on).
            if !Task.isCancelled { logger.warning("dispatcher heartbeat failed", metadata: ["error": "\(error)"]) }
        }
    }

    /// One lane: claim a batch, work it, again; a pause when nothing is due.
    func work(_ senders: SenderThreads) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let processed: Int
            do {
                processed = try await runOnce(senders)
            } catch {
                logger.warning("dispatcher cycle failed", metadata: ["error": "\(error)"])
                processed = 0
            }
            if processed == 0 { try? await Task.sleep(for: pollInterval) }
        }
    }

    /// Claims the due jobs (transactional first) and works them; returns how many there were.
    @discardableResult
    package func runOnce(_ senders: SenderThreads) async throws -> Int {
        let jobs = try await pool.withTransaction { [batchSize, leaseSeconds, membership] in
            try JobStore.claim($0, limit: batchSize, leaseSeconds: leaseSeconds, dispatcherID: membership.id)
        }
        let sends = jobs.filter { $0.kind == .sendMessage }
        await withTaskGroup(of: Void.self) { group in
            if !sends.isEmpty {
                group.addTask { await guarded(sends) { try await sendBatch(sends, senders) } }
            }
            for job in jobs where job.kind != .sendMessage {
                group.addTask { await guarded([job]) { try await process(job) } }
            }
        }
        return jobs.count
    }

    /// Runs `body`; if it throws (the database busy or away), its jobs are put back to be tried
    /// again in 5 s.
    func guarded(_ jobs: [JobRecord], _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            logger.error("jobs failed", metadata: ["jobs": "\(jobs.map(\.id))", "error": "\(error)"])
            try? await pool.withTransaction { connection in
                for job in jobs { try JobStore.retry(connection, jobID: job.id, afterSeconds: 5, error: "\(error)") }
            }
        }
    }

    func process(_ job: JobRecord) async throws {
        switch job.kind {
        case .routeReply: try await routeReply(job)
        case .balanceNotice: try await mailBalanceNotice(job)
        case .autoTopUp: try await applyTopUp(job)
        case .sendMessage, nil:
            logger.error("job of an unknown kind left undone", metadata: ["job.id": "\(job.id)"])
            try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "unknown job kind") }
        }
    }

    /// Schedules the job's next attempt, 2, 4, 8 … seconds on (at most 5 minutes); false when
    /// it has used all its attempts.
    func retryWithBackoff(_ job: JobRecord, error: String) async throws -> Bool {
        guard let delay = Self.backoff(job) else { return false }
        try await pool.withTransaction { try JobStore.retry($0, jobID: job.id, afterSeconds: delay, error: error) }
        return true
    }

    /// The seconds before the job's next attempt; nil when it has used all its attempts.
    static func backoff(_ job: JobRecord) -> Int? {
        job.attempts < job.maxAttempts ? min(300, 1 << min(job.attempts, 8)) : nil
    }
}
