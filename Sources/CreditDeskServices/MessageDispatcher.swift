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
    private let baseURL: PublicBaseURL

    /// How gateways reach this daemon's callbacks, e.g. http://sms-api.example.com.
    package var publicBaseURL: String { baseURL.value }

    package init(
        secretBox: SecretBox?, previousSecretBox: SecretBox? = nil, mailer: SMTPMailer? = nil,
        replyRule: ReplyRoutingRule = .default, publicBaseURL: String
    ) {
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
/// Jobs are claimed with a lease (FOR UPDATE SKIP LOCKED), so several daemons can run side by
/// side; a daemon that dies mid-submission leaves the job to be claimed again when the lease
/// ends (at-least-once: the gateway may then see the message twice).
package struct MessageDispatcher: Service {
    let pool: DatabasePool
    let settings: MessagingSettings
    let logger: Logger
    let pollInterval: Duration
    let batchSize: Int
    let leaseSeconds = 120
    let gatewayTimeoutMilliseconds: Int

    package init(
        pool: DatabasePool, settings: MessagingSettings, logger: Logger, pollInterval: Duration = .milliseconds(250),
        batchSize: Int = 16, gatewayTimeoutMilliseconds: Int = 10_000
    ) {
        self.pool = pool
        self.settings = settings
        self.logger = logger
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.gatewayTimeoutMilliseconds = gatewayTimeoutMilliseconds
    }

    /// Works the queue until the daemon shuts down. On a graceful shutdown it claims nothing
    /// new and returns once the jobs in hand are done (sent and recorded, or put back to be
    /// retried), so no message waits out its lease; the pool closes only after that.
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let processed: Int
            do {
                processed = try await runOnce()
            } catch {
                logger.warning("dispatcher cycle failed", metadata: ["error": "\(error)"])
                processed = 0
            }
            if processed == 0 { try? await Task.sleep(for: pollInterval) }
        }
        logger.info("dispatcher stopped: no job in hand")
    }

    /// Claims the due jobs and works them, concurrently; returns how many there were.
    @discardableResult
    package func runOnce() async throws -> Int {
        let jobs = try await pool.withTransaction { [batchSize, leaseSeconds] in
            try JobStore.claim($0, limit: batchSize, leaseSeconds: leaseSeconds)
        }
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask {
                    do {
                        try await process(job)
                    } catch {
                        logger.error("job failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                        try? await pool.withTransaction {
                            try JobStore.retry($0, jobID: job.id, afterSeconds: 30, error: "\(error)")
                        }
                    }
                }
            }
        }
        return jobs.count
    }

    func process(_ job: JobRecord) async throws {
        switch job.kind {
        case .sendMessage: try await sendMessage(job)
        case .routeReply: try await routeReply(job)
        case nil:
            logger.error("job of an unknown kind left undone", metadata: ["job.id": "\(job.id)"])
            try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "unknown job kind") }
        }
    }

    /// Forwards an inbound reply to its user: by email through the relay, or by SMS to their
    /// mobile (an ordinary message, charged), as the routing rule decides. The outcome, or the
    /// reason there is none, is recorded on the reply.
    func routeReply(_ job: JobRecord) async throws {
        let context = OperationContext(actorUserID: nil, requestID: "job-\(job.id)")
        let loaded = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            try MessagingOperations.replyToRoute($0, messageID: job.subjectID)
        }
        guard let reply = loaded else {
            try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "nothing to route") }
            return
        }
        let destination = settings.replyRule.destination(
            channel: reply.routing.channel, email: reply.routing.email, mobile: reply.routing.mobile.map(PhoneNumber.init(e164:)))
        func record(_ outcome: String) async throws {
            try await pool.withTransaction { connection in
                try MessageStore.setRoutedTo(connection, id: reply.message.id, outcome)
                try JobStore.finish(connection, jobID: job.id)
            }
        }
        switch destination {
        case .nowhere(let reason):
            try await record("not routed: \(reason)")
        case .email(let address):
            guard let mailer = settings.mailer else {
                try await record("not routed: no SMTP relay is configured (CREDITDESK_SMTP_URL)")
                return
            }
            let message = reply.message
            do {
                try await runBlocking {
                    try mailer.send(
                        to: address, subject: "SMS reply from \(message.sender)",
                        body: "\(message.sender) replied to \(message.recipient) at \(ISO8601.format(message.createdAt)):\n\n\(message.body)"
                            + (message.mediaURLs.isEmpty ? "" : "\n\nMedia:\n" + message.mediaURLs.joined(separator: "\n")))
                }
                try await record("email \(address)")
            } catch {
                if try await !retryWithBackoff(job, error: "\(error)") {
                    try await record("not routed: \(error) after \(job.attempts) attempts")
                }
            }
        case .mobile(let number):
            try await pool.withRetryingTransaction { connection in
                let outcome: String
                do {
                    let forwarded = try MessagingOperations.forwardReply(connection, context, reply, to: number)
                    outcome = "mobile \(number.e164) (message \(forwarded.id.uuidString.lowercased()))"
                } catch let error as DomainError {
                    outcome = "not routed: \(error.message)"
                }
                try MessageStore.setRoutedTo(connection, id: reply.message.id, outcome)
                try JobStore.finish(connection, jobID: job.id)
            }
        }
    }

    func sendMessage(_ job: JobRecord) async throws {
        let context = OperationContext(actorUserID: nil, requestID: "job-\(job.id)")
        let loaded = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            try MessageStore.message(connection, id: job.subjectID).flatMap { message in
                try message.connectionID.flatMap { try GatewayStore.connection(connection, id: $0) }.map { (message, $0) }
            }
        }
        guard let (message, gateway) = loaded, message.status == .queued || message.status == .scheduled else {
            try await pool.withTransaction { try JobStore.finish($0, jobID: job.id, error: "nothing to send") }
            return
        }
        let associated = Array(gateway.id.uuidString.lowercased().utf8)
        guard let box = settings.box(forKeyID: gateway.secretKeyID),
            let secret = box.open(gateway.secretSealed, associatedData: associated)
        else {
            try await conclude(job, message, context, .refused(reason: "the gateway credentials cannot be decrypted with the configured key"))
            return
        }
        let credentials = GatewayCredentials(
            provider: gateway.provider, baseURL: gateway.baseURL, username: gateway.username,
            password: String(decoding: secret, as: UTF8.self))
        let outbound = OutboundMessage(
            id: message.id, from: message.sender, to: message.recipient, text: message.body, mediaURLs: message.mediaURLs)
        let callback = settings.deliveryReportURL(gateway, messageID: message.id, token: nil)
        let timeout = gatewayTimeoutMilliseconds
        let result = try await runBlocking {
            GatewayClient.submit(
                outbound, credentials: credentials, statusCallbackURL: callback,
                http: BlockingHTTPClient(timeoutMilliseconds: timeout))
        }
        logger.info(
            "message submitted",
            metadata: ["message.id": "\(message.id)", "gateway.id": "\(gateway.id)", "result": "\(result)"])
        switch result {
        case .accepted:
            try await conclude(job, message, context, .accepted)
        case .refused(let reason):
            try await conclude(job, message, context, .refused(reason: reason))
        case .unknown(let reason):
            // Resending could deliver twice; the customer is not charged for the doubt.
            try await conclude(job, message, context, .refused(reason: "no answer from the gateway (\(reason)); not resent"))
        case .unreachable(let reason):
            if try await !retryWithBackoff(job, error: reason) {
                try await conclude(
                    job, message, context, .refused(reason: "gateway unreachable after \(job.attempts) attempts: \(reason)"))
            }
        }
    }

    /// Schedules the job's next attempt, 2, 4, 8 … seconds on (at most 5 minutes); false when
    /// it has used all its attempts.
    private func retryWithBackoff(_ job: JobRecord, error: String) async throws -> Bool {
        guard job.attempts < job.maxAttempts else { return false }
        let delay = min(300, 1 << min(job.attempts, 8))
        try await pool.withTransaction { try JobStore.retry($0, jobID: job.id, afterSeconds: delay, error: error) }
        return true
    }

    private func conclude(
        _ job: JobRecord, _ message: MessageRecord, _ context: OperationContext, _ outcome: MessagingOperations.SubmitOutcome
    ) async throws {
        try await pool.withRetryingTransaction { connection in
            try MessagingOperations.recordSubmission(connection, context, messageID: message.id, outcome: outcome)
            try JobStore.finish(connection, jobID: job.id)
        }
    }
}
