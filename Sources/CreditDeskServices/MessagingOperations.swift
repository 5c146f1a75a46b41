import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Messaging operations: gateway connections, sending, cancelling, delivery reports,
/// inbound messages and opt-outs. Like `Operations`, each runs inside the caller's transaction.
///
/// Credits follow one rule set:
/// - a send reserves its credits; opted-out recipients are refused before anything is reserved;
/// - the gateway accepting the message posts the reservation (the message is charged);
///   the gateway refusing it, or a cancellation before it goes, voids it (never charged);
/// - a delivery report saying the message failed (Kannel status 2 or 16) refunds the posted
///   credits in full: customers pay for messages that reached a handset or are still on their way;
/// - an inbound MMS is charged one MMS credit as it arrives; inbound SMS is free.
package enum MessagingOperations {
    /// Kannel delivery-report status bits.
    package enum DeliveryStatus: Int, Sendable {
        case delivered = 1, failed = 2, buffered = 4, smscAccepted = 8, smscRejected = 16
    }

    // MARK: sending

    package struct SendInput: Sendable {
        package var to: String
        package var text: String
        package var mediaURLs: [String]
        package var sendAt: Date?

        package init(to: String, text: String, mediaURLs: [String], sendAt: Date?) {
            self.to = to
            self.text = text
            self.mediaURLs = mediaURLs
            self.sendAt = sendAt
        }
    }

    /// Validates, prices and reserves a message, then queues its dispatch (now or at `send_at`).
    package static func send(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        input: SendInput, now: Date = Date()
    ) throws -> MessageRecord {
        let account = try Operations.account(connection, principal, accountID, for: .consumeCredits)
        try Operations.requireActive(account)
        guard account.kind == .client else { throw DomainError.wrongKind("account", "messages are sent by client accounts") }
        let to = try PhoneNumber.parse(input.to)
        guard input.text.count <= 2000 else { throw DomainError.invalid("text", "must be at most 2000 characters") }
        for (index, url) in input.mediaURLs.enumerated() {
            _ = try Validate.httpURL(url, field: "media_urls[\(index)]")
        }
        guard let gateway = try GatewayStore.sendingConnection(connection, accountID: account.id, userID: principal.userID) else {
            throw DomainError(.conflict, "no gateway connection: link the office's or your own first")
        }
        // Refused before anything is reserved: an opted-out number is never charged.
        if try OptOutStore.isOptedOut(connection, accountID: account.id, phone: to.e164) {
            throw DomainError(
                .recipientOptedOut, "\(to.e164) has opted out (from/to pair violates a blacklist rule); nothing was charged",
                details: ["to": .string(to.e164)])
        }
        let caps = try CapStore.caps(connection, accountID: account.id)
        try CapOperations.checkDestinations(caps, [to.digits])
        let price = try OutboundPricing.load(connection, account: account, gateway: gateway)
            .price(to: to, text: input.text, mediaCount: input.mediaURLs.count)
        let sendAt = try Scheduling.sendTime(
            input.sendAt, now: now, schedulingEnabled: account.effectiveFeatures.contains(.scheduling))
        try CapOperations.consume(
            connection, account: account, caps: caps, unit: price.unit, credits: price.credits, messages: 1, now: now)
        let (messageID, reservationID) = (UUID(), UUID())
        var message = MessageStore.NewMessage(
            account: account, userID: principal.userID, connectionID: gateway.id, direction: .outbound, unit: price.unit,
            sender: gateway.sender, recipient: to.e164, body: input.text, mediaURLs: input.mediaURLs,
            segments: price.segments, credits: price.credits, status: sendAt == nil ? .queued : .scheduled,
            reservationID: reservationID, sendAt: sendAt)
        message.id = messageID
        let record = try MessageStore.insert(connection, message)
        context.tally.messages(record.status)
        try JobStore.enqueue(connection, tenantID: account.tenantID, kind: .sendMessage, subjectID: messageID, runAt: sendAt)
        // Last, so the account's balance row is held for as little of the transaction as can
        // be (see `LedgerStore.reserve`); too few credits rolls the message back with it.
        _ = try LedgerStore.reserve(
            connection, context, account: account, unit: price.unit, amount: price.credits,
            reference: "message \(messageID.lower)", id: reservationID)
        return record
    }

    /// The checks every outbound message passes and what it costs, for one account sending
    /// through one gateway: the rate table is read once, so a campaign prices each recipient
    /// without a query.
    package struct OutboundPricing: Sendable {
        let account: AccountRecord
        let gateway: GatewayConnectionRecord
        let rates: RateTable

        package static func load(_ connection: PostgresConnection, account: AccountRecord, gateway: GatewayConnectionRecord)
            throws -> OutboundPricing
        {
            OutboundPricing(
                account: account, gateway: gateway, rates: try RateStore.rates(connection, resellerID: account.pricingAccountID))
        }

        package func price(to: PhoneNumber, text: String, mediaCount: Int) throws -> MessagePrice {
            let international = !to.hasPrefix(gateway.homePrefix)
            if international, !account.effectiveFeatures.contains(.international) {
                throw DomainError(
                    .featureDisabled, "sending abroad needs the international feature",
                    details: ["feature": .string("international")])
            }
            guard let creditsPerSegment = rates.rate(for: to) ?? (international ? nil : 1) else {
                throw DomainError(
                    .conflict, "to: no rate is set for destination \(to.e164); ask your reseller",
                    details: ["field": .string("to")])
            }
            let price = try MessagePricing.price(text: text, mediaCount: mediaCount, creditsPerSegment: creditsPerSegment)
            try Operations.requireUnitAllowed(account, price.unit)
            if price.unit == .mms, gateway.provider == .kannel {
                throw DomainError.beyondState("media_urls", "this gateway (Kannel) carries SMS only; MMS needs a twilio connection")
            }
            return price
        }
    }

    /// Cancels a message that has not gone yet: the reservation is voided, nothing is charged.
    package static func cancel(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, messageID: UUID
    ) throws -> MessageRecord {
        let (message, _) = try Operations.owned(
            connection, principal, try MessageStore.lockMessage(connection, id: messageID), owner: \.accountID,
            for: .consumeCredits, what: "message")
        guard let cancelled = try cancelUnsent(connection, context, message) else {
            throw DomainError(
                .conflict, "the message is \(message.status.rawValue) and can no longer be cancelled",
                details: ["status": .string(message.status.rawValue)])
        }
        return cancelled
    }

    /// Cancels a locked message if it has not gone and nobody is submitting it right now;
    /// nil otherwise.
    static func cancelUnsent(_ connection: PostgresConnection, _ context: OperationContext, _ message: MessageRecord) throws
        -> MessageRecord?
    {
        guard message.status == .scheduled || message.status == .queued,
            let jobID = try JobStore.lockIdleJob(connection, subjectID: message.id)
        else { return nil }
        try JobStore.finish(connection, jobID: jobID, error: "cancelled")
        if let reservationID = message.reservationID, let reservation = try LedgerStore.lockReservation(connection, id: reservationID) {
            _ = try LedgerStore.void(connection, context, reservation: reservation)
        }
        context.tally.messages(.cancelled)
        return try MessageStore.setStatus(connection, id: message.id, .cancelled, reason: "cancelled before it was sent")
    }

    package static func messages(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, direction: MessageDirection?,
        status: MessageStatus?, phone: String?, afterID: UUID?, limit: Int
    ) throws -> [MessageRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        let phone = try phone.map { try PhoneNumber.parse($0, field: "phone").e164 }
        return try MessageStore.messages(
            connection, accountID: accountID, direction: direction, status: status, phone: phone, afterID: afterID,
            limit: limit)
    }

    // MARK: the dispatcher's side

    /// The gateway refused the message: its reservation is voided (never charged) and it is
    /// `failed` with the reason. One a delivery report already marked `sent` or `delivered` is
    /// charged instead; one failed or cancelled meanwhile is left as it is.
    package static func recordRefusal(
        _ connection: PostgresConnection, _ context: OperationContext, messageID: UUID, reason: String
    ) throws {
        guard let message = try MessageStore.lockMessage(connection, id: messageID) else { return }
        guard message.status == .queued || message.status == .scheduled else {
            // A delivery report proved the gateway took it after all (an answer lost in a
            // timeout): charge it, as for any accepted message.
            try recordAccepted(connection, context, messageIDs: [messageID])
            return
        }
        try voidPendingReservation(connection, context, of: message)
        try MessageStore.setStatus(connection, id: messageID, .failed, reason: reason)
        context.tally.messages(.failed)
    }

    /// Voids the message's reservation if it is still pending (nothing charged yet); answers
    /// whether it did.
    @discardableResult
    static func voidPendingReservation(_ connection: PostgresConnection, _ context: OperationContext, of message: MessageRecord)
        throws -> Bool
    {
        guard let reservation = try message.reservationID.flatMap({ try LedgerStore.lockReservation(connection, id: $0) }),
            reservation.status == .pending
        else { return false }
        _ = try LedgerStore.void(connection, context, reservation: reservation)
        return true
    }

    /// The gateway took these messages (locked by the caller): those still waiting to go become
    /// `sent`, and the reservations of all that the gateway took (a delivery report may have
    /// marked some `sent` or `delivered` first) are posted together, charged; one already
    /// posted, or voided by a failure report, is left as it is.
    package static func recordAccepted(_ connection: PostgresConnection, _ context: OperationContext, messageIDs: [UUID])
        throws
    {
        guard !messageIDs.isEmpty else { return }
        context.tally.messages(.sent, count: try MessageStore.markSent(connection, ids: messageIDs))
        try LedgerStore.postAll(connection, context, reservationIDs: try MessageStore.acceptedReservations(connection, ids: messageIDs))
    }

    /// Applies a delivery report. Repeats and reports for finished messages change nothing.
    /// A report can overtake the gateway's answer to the submission (Kannel calls back as soon
    /// as the SMSC has the message): it proves the gateway accepted the message, so the
    /// message is marked `sent` first. Its charge is left to the engine's record of the
    /// submission (or, after a crash, to the job claimed again), which posts a chunk's
    /// reservations set-wise: posting here, one transaction per report on the account's one
    /// balance row, capped a campaign at the rate those transactions could queue for the row.
    /// A failure report before that voids the reservation instead of refunding a charge.
    package static func applyDeliveryReport(
        _ connection: PostgresConnection, _ context: OperationContext, gateway: GatewayConnectionRecord, messageID: UUID,
        status: Int
    ) throws {
        guard var message = try MessageStore.lockMessage(connection, id: messageID), message.connectionID == gateway.id else {
            throw DomainError.notFound("message")
        }
        if message.status == .queued || message.status == .scheduled {
            message = try MessageStore.setStatus(connection, id: messageID, .sent)
            context.tally.messages(.sent)
        }
        guard message.status == .sent else { return }
        if status & DeliveryStatus.delivered.rawValue != 0 {
            try MessageStore.setStatus(connection, id: messageID, .delivered)
            context.tally.messages(.delivered)
        } else if status & (DeliveryStatus.failed.rawValue | DeliveryStatus.smscRejected.rawValue) != 0 {
            // Not charged yet: the reservation is voided; charged: the charge is refunded.
            if try !voidPendingReservation(connection, context, of: message), let reservationID = message.reservationID,
                let entry = try LedgerStore.lockPostEntry(connection, reservationID: reservationID),
                let account = try AccountStore.find(connection, id: message.accountID)
            {
                _ = try LedgerStore.refund(
                    connection, context, entry: entry, account: account, amount: nil,
                    reason: "message \(messageID.lower) was not delivered")
            }
            try MessageStore.setStatus(
                connection, id: messageID, .failed,
                reason: status & DeliveryStatus.smscRejected.rawValue != 0 ? "rejected by the network" : "not delivered")
            context.tally.messages(.failed)
        }
    }

    /// An inbound message: opt keywords act on the opt-out list; an MMS is charged one credit;
    /// the message is linked to the first contact whose phone matches, in the account's
    /// configured field order. A repeat of a gateway message id returns the stored message and
    /// changes nothing (gateways retry callbacks).
    package static func receive(
        _ connection: PostgresConnection, _ context: OperationContext, gateway: GatewayConnectionRecord, from: String,
        text: String, mediaURLs: [String], gatewayMessageID: String? = nil
    ) throws -> MessageRecord {
        guard let account = try AccountStore.find(connection, id: gateway.accountID) else { throw DomainError.notFound("account") }
        let gatewayMessageID = gatewayMessageID.flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
        if let gatewayMessageID,
            let stored = try MessageStore.lockInbound(connection, connectionID: gateway.id, gatewayMessageID: gatewayMessageID)
        {
            return stored
        }
        let sender = (try? PhoneNumber.parse(from.hasPrefix("+") ? from : "+" + from, field: "from"))?.e164 ?? from
        let contactID = try ContactStore.match(
            connection, accountID: account.id, phone: sender,
            order: try ContactStore.replyMatchOrder(connection, accountID: account.id))
        switch OptKeyword.parse(text) {
        case .optOut: try OptOutStore.optOut(connection, account: account, phone: sender, source: "keyword")
        case .optIn: _ = try OptOutStore.optIn(connection, accountID: account.id, phone: sender)
        case nil: break
        }
        let isMMS = !mediaURLs.isEmpty
        var failure: String?
        if isMMS {
            do {
                _ = try LedgerStore.charge(
                    connection, context, account: account, unit: .mms, amount: 1, reason: "inbound MMS from \(sender)")
            } catch let error as DomainError where error.code == .insufficientCredits {
                // A message that arrived cannot be refused: keep it, and say it was not charged.
                failure = "not charged: no MMS credit available"
            }
        }
        var message = MessageStore.NewMessage(
            account: account, userID: gateway.userID, connectionID: gateway.id, direction: .inbound,
            unit: isMMS ? .mms : .sms, sender: sender, recipient: gateway.sender, body: String(text.prefix(2000)),
            mediaURLs: Array(mediaURLs.prefix(MessagePricing.maxMediaURLs)), segments: isMMS ? 1 : Segmenter.count(text).segments,
            credits: isMMS && failure == nil ? 1 : 0, status: .received, failureReason: failure)
        message.contactID = contactID
        message.gatewayMessageID = gatewayMessageID
        let stored = try MessageStore.insert(connection, message)
        context.tally.messages(.received)
        // A reply (not a keyword) is routed when its owner forwards replies.
        if OptKeyword.parse(text) == nil,
            let userID = try replyOwner(connection, accountID: account.id, sender: sender, gateway: gateway),
            let routing = try ReplyRoutingStore.replyRouting(connection, userID: userID), routing.channel != .none
        {
            try JobStore.enqueue(connection, tenantID: account.tenantID, kind: .routeReply, subjectID: stored.id, runAt: nil)
        }
        return stored
    }

}
