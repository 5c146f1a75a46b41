import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import Foundation

/// Sending a batch: its messages and gateways read in one transaction, each submitted on a
/// sender thread (up to the threads' count at once), and the outcomes recorded a chunk a
/// transaction at the end.
extension MessageDispatcher {
    /// What became of one job of the batch.
    enum Conclusion: Sendable {
        /// The gateway took it: its credits are posted.
        case accepted(messageID: UUID)
        /// The gateway answered no: its credits are voided.
        case refused(messageID: UUID, reason: String)
        /// Not reached: tried again after `seconds`.
        case retry(seconds: Int, error: String)
        /// Nothing to send (cancelled, already sent, gone).
        case finish(error: String)
        /// Not tried: the gateway's limits or its throttling; due again after `seconds`,
        /// without using an attempt.
        case postpone(seconds: Double)
    }

    func sendBatch(_ jobs: [JobRecord], _ senders: SenderThreads) async throws {
        let (messages, gateways) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let messages = try MessageStore.messages(connection, ids: jobs.map(\.subjectID))
            let gateways = try GatewayStore.connections(connection, ids: Array(Set(messages.compactMap(\.connectionID))))
            return (
                Dictionary(messages.map { ($0.id, $0) }) { first, _ in first },
                Dictionary(gateways.map { ($0.id, $0) }) { first, _ in first }
            )
        }
        let conclusions = await withTaskGroup(of: (JobRecord, Conclusion).self) { group in
            for job in jobs {
                let message = messages[job.subjectID]
                switch message?.status {
                case .queued?, .scheduled?:
                    if let message, let gateway = message.connectionID.flatMap({ gateways[$0] }) {
                        group.addTask { (job, await submit(job, message, gateway, senders)) }
                    } else {
                        group.addTask { (job, .finish(error: "nothing to send")) }
                    }
                case .sent?, .delivered?:
                    // A delivery report proved the gateway has it (this job was claimed again
                    // after a crash, or retried after a lost answer): charge it, do not resend.
                    group.addTask { (job, .accepted(messageID: job.subjectID)) }
                default:
                    group.addTask { (job, .finish(error: "nothing to send")) }
                }
            }
            var all: [(JobRecord, Conclusion)] = []
            for await conclusion in group { all.append(conclusion) }
            return all
        }
        try await record(conclusions)
    }

    func submit(
        _ job: JobRecord, _ message: MessageRecord, _ gateway: GatewayConnectionRecord, _ senders: SenderThreads
    ) async -> Conclusion {
        guard let password = secrets.password(of: gateway, settings) else {
            return .refused(messageID: message.id, reason: "the gateway credentials cannot be decrypted with the configured key")
        }
        let gate = gates.gate(for: gateway, share: membership.share(of: gateway.limits))
        let admission = await gate.admit { [pool] gateway, want in
            try await pool.withTransaction { try GatewayStore.takeSendTokens($0, gateway: gateway, want: want) }
        }
        if case .later(let seconds) = admission { return .postpone(seconds: seconds) }
        let credentials = GatewayCredentials(
            provider: gateway.provider, baseURL: gateway.baseURL, username: gateway.username, password: password)
        let outbound = OutboundMessage(
            id: message.id, from: message.sender, to: message.recipient, text: message.body, mediaURLs: message.mediaURLs)
        let callback = settings.deliveryReportURL(gateway, messageID: message.id, token: nil)
        let started = ContinuousClock.now
        let result = await senders.run { http in
            GatewayClient.submit(outbound, credentials: credentials, statusCallbackURL: callback, http: http)
        }
        let took = ContinuousClock.now - started
        gate.finished(GatewayGate.SubmitOutcome(result), seconds: took.seconds)
        Telemetry.submitted(provider: gateway.provider, outcome: result.outcome, duration: took)
        logger.debug(
            "message submitted",
            metadata: ["message.id": "\(message.id)", "gateway.id": "\(gateway.id)", "result": "\(result)"])
        switch result {
        case .accepted:
            return .accepted(messageID: message.id)
        case .refused(let reason):
            return .refused(messageID: message.id, reason: reason)
        case .unknown(let reason):
            // Resending could deliver twice; the customer is not charged for the doubt.
            return .refused(messageID: message.id, reason: "no answer from the gateway (\(reason)); not resent")
        case .throttled:
            return .postpone(seconds: 0.5)
        case .unreachable(let reason):
            guard let delay = Self.backoff(job) else {
                return .refused(messageID: message.id, reason: "gateway unreachable after \(job.attempts) attempts: \(reason)")
            }
            return .retry(seconds: delay, error: reason)
        }
    }

    /// The batch's outcomes, `recordChunk` messages a transaction (retried whole on a transient
    /// failure: recording an outcome twice changes nothing, a message is only concluded while
    /// queued). The chunk's messages are locked first, in id order: a delivery report racing the
    /// record (it can arrive first) then waits for it, or it for the report, but never both.
    func record(_ conclusions: [(JobRecord, Conclusion)]) async throws {
        for start in stride(from: 0, to: conclusions.count, by: Self.recordChunk) {
            try await recordChunk(Array(conclusions[start..<min(start + Self.recordChunk, conclusions.count)]))
        }
    }

    /// Outcomes a transaction: few enough that the balance row it posts to is held briefly.
    static var recordChunk: Int { 32 }

    func recordChunk(_ conclusions: [(JobRecord, Conclusion)]) async throws {
        let messageIDs = conclusions.compactMap { _, conclusion -> UUID? in
            switch conclusion {
            case .accepted(let messageID), .refused(let messageID, _): messageID
            case .retry, .finish, .postpone: nil
            }
        }
        // Accepted ones (nearly all) set-wise: a few statements for the chunk, not five a message.
        let accepted = conclusions.compactMap { job, conclusion -> (Int64, UUID)? in
            if case .accepted(let messageID) = conclusion { return (job.id, messageID) }
            return nil
        }
        try await pool.withOperation(actorUserID: nil, requestID: "jobs-\(conclusions.first?.0.id ?? 0)") {
            connection, context in
            if !messageIDs.isEmpty { try MessageStore.lockMessages(connection, ids: messageIDs) }
            try MessagingOperations.recordAccepted(connection, context, messageIDs: accepted.map(\.1))
            try JobStore.finish(connection, jobIDs: accepted.map(\.0))
            for (seconds, jobIDs) in Self.postponed(conclusions) {
                try JobStore.postpone(connection, jobIDs: jobIDs, afterSeconds: seconds)
            }
            for (job, conclusion) in conclusions {
                switch conclusion {
                case .accepted, .postpone:
                    continue
                case .refused(let messageID, let reason):
                    try MessagingOperations.recordRefusal(connection, context, messageID: messageID, reason: reason)
                    try JobStore.finish(connection, jobID: job.id)
                case .retry(let seconds, let error):
                    try JobStore.retry(connection, jobID: job.id, afterSeconds: seconds, error: error)
                case .finish(let error):
                    try JobStore.finish(connection, jobID: job.id, error: error)
                }
            }
        }
    }
}

extension MessageDispatcher {
    /// The postponed jobs by when they are due again (rounded up to a tenth of a second, so a
    /// batch puts them back in a few statements).
    static func postponed(_ conclusions: [(JobRecord, Conclusion)]) -> [Double: [Int64]] {
        var byDelay: [Double: [Int64]] = [:]
        for (job, conclusion) in conclusions {
            if case .postpone(let seconds) = conclusion { byDelay[(seconds * 10).rounded(.up) / 10, default: []].append(job.id) }
        }
        return byDelay
    }
}

extension GatewayGate.SubmitOutcome {
    init(_ result: SubmitResult) {
        switch result {
        case .accepted, .refused: self = .answered
        case .throttled: self = .throttled
        case .unreachable, .unknown: self = .noAnswer
        }
    }
}

/// Gateway passwords, opened once per connection and kept in memory only while the daemon
/// runs; a connection resealed under another key is opened again.
final class GatewaySecrets: @unchecked Sendable {
    private let lock = NSLock()
    private var opened: [UUID: (sealed: [UInt8], password: String)] = [:]

    func password(of gateway: GatewayConnectionRecord, _ settings: MessagingSettings) -> String? {
        lock.lock()
        if let entry = opened[gateway.id], entry.sealed == gateway.secretSealed {
            lock.unlock()
            return entry.password
        }
        lock.unlock()
        guard let box = settings.box(forKeyID: gateway.secretKeyID),
            let secret = box.open(gateway.secretSealed, associatedData: Array(gateway.id.lower.utf8))
        else { return nil }
        let password = String(decoding: secret, as: UTF8.self)
        lock.lock()
        opened[gateway.id] = (gateway.secretSealed, password)
        lock.unlock()
        return password
    }
}
