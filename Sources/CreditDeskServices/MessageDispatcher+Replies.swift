import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import Foundation

extension MessageDispatcher {
    /// Forwards an inbound reply to its user: by email through the relay, or by SMS to their
    /// mobile (an ordinary message, charged), as the routing rule decides. The outcome, or the
    /// reason there is none, is recorded on the reply.
    func routeReply(_ job: JobRecord) async throws {
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
            try await pool.withOperation(actorUserID: nil, requestID: "job-\(job.id)") { connection, context in
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
}
