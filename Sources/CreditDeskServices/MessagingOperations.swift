import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Messaging operations (issue 5): gateway connections, sending, cancelling, delivery reports,
/// inbound messages and opt-outs. Like `Operations`, each runs inside the caller's transaction.
///
/// Credits follow one rule set:
/// - a send reserves its credits; opted-out recipients are refused before anything is reserved;
/// - the gateway accepting the message posts the reservation (the message is charged);
///   the gateway refusing it, or a cancellation before it goes, voids it (never charged);
/// - a delivery report saying the message failed (Kannel status 2 or 16) refunds the posted
///   credits in full: customers pay for messages that reached a handset or are still on their way;
/// - an inbound MMS is charged one MMS credit as it arrives; inbound SMS is free.
public enum MessagingOperations {
    /// Kannel delivery-report status bits.
    public enum DeliveryStatus: Int, Sendable {
        case delivered = 1, failed = 2, buffered = 4, smscAccepted = 8, smscRejected = 16
    }

    // MARK: gateway connections

    public struct GatewayInput: Sendable {
        public var provider: GatewayProvider
        public var name: String
        public var baseURL: String
        public var username: String
        public var password: String
        public var sender: String
        public var homePrefix: String
        public var userID: UUID?

        public init(
            provider: GatewayProvider, name: String, baseURL: String, username: String, password: String, sender: String,
            homePrefix: String, userID: UUID?
        ) {
            self.provider = provider
            self.name = name
            self.baseURL = baseURL
            self.username = username
            self.password = password
            self.sender = sender
            self.homePrefix = homePrefix
            self.userID = userID
        }
    }

    /// Creates a connection and returns it with its callback token (shown this once). The office
    /// connection (no user) needs an admin; an agent may link its own.
    public static func createGateway(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, input: GatewayInput, box: SecretBox
    ) throws -> (GatewayConnectionRecord, callbackToken: String) {
        let account = try Operations.account(connection, principal, accountID, for: .read)
        guard account.kind == .client else {
            throw DomainError.invalid("account", "gateway connections belong to client accounts")
        }
        if let userID = input.userID {
            guard let user = try UserStore.findUser(connection, id: userID), user.accountID == account.id else {
                throw DomainError.invalid("user_id", "must be a user of this account")
            }
            // An agent links its own connection to send with it: a role that sends, not a
            // read-only one.
            try Authorization.check(
                principal, userID == principal.userID ? .consumeCredits : .manageMessaging, targetPath: account.path)
        } else {
            try Authorization.check(principal, .manageMessaging, targetPath: account.path)
        }
        try Operations.requireActive(account)
        let name = try Validate.name(input.name)
        _ = try Validate.httpURL(input.baseURL, field: "base_url")
        guard (1...200).contains(input.username.count) else { throw DomainError.invalid("username", "must be 1 to 200 characters") }
        guard (1...500).contains(input.password.count) else { throw DomainError.invalid("password", "must be 1 to 500 characters") }
        guard (1...20).contains(input.sender.count), !input.sender.contains(where: \.isWhitespace) else {
            throw DomainError.invalid("sender", "must be a number or sender id of 1 to 20 characters without spaces")
        }
        guard input.homePrefix.wholeMatch(of: /[1-9][0-9]{0,3}/) != nil else {
            throw DomainError.invalid("home_prefix", "must be a country calling code, e.g. 64")
        }
        let token = UserStore.newSecret()
        do {
            let record = try MessagingStore.createConnection(
                connection, account: account, userID: input.userID, provider: input.provider, name: name,
                baseURL: input.baseURL, username: input.username, sender: input.sender, homePrefix: input.homePrefix,
                seal: { id in (box.seal(Array(input.password.utf8), associatedData: Array(id.uuidString.lowercased().utf8)), box.keyID) },
                callbackTokenHash: Digest.sha256(Array(token.utf8)))
            return (record, token)
        } catch let error as DatabaseError where error.code == .uniqueViolation {
            throw DomainError(
                .conflict, input.userID == nil ? "the office already has a gateway connection" : "this user already has one")
        }
    }

    public static func gateways(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [GatewayConnectionRecord]
    {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try MessagingStore.connections(connection, accountID: accountID)
    }

    /// The connection a callback names, if its token matches (compared as hashes, so timing
    /// says nothing about the stored value).
    public static func authenticateCallback(_ connection: PostgresConnection, connectionID: UUID, token: String) throws
        -> GatewayConnectionRecord
    {
        guard let record = try MessagingStore.connection(connection, id: connectionID),
            Digest.sha256(Array(token.utf8)) == record.callbackTokenHash
        else { throw DomainError(.unauthorized, "unknown gateway connection or wrong callback token") }
        return record
    }

    /// Re-seals every connection's secret under `newBox`; values already under it are skipped.
    public static func reencryptSecrets(_ connection: PostgresConnection, oldBox: SecretBox, newBox: SecretBox) throws -> Int {
        var changed = 0
        for secret in try MessagingStore.lockAllSecrets(connection) where secret.keyID != newBox.keyID {
            let associated = Array(secret.id.uuidString.lowercased().utf8)
            guard let plain = oldBox.open(secret.sealed, associatedData: associated) else {
                throw DomainError(.invalidRequest, "the old key does not open the secret of connection \(secret.id)")
            }
            try MessagingStore.reseal(connection, id: secret.id, sealed: newBox.seal(plain, associatedData: associated), keyID: newBox.keyID)
            changed += 1
        }
        return changed
    }

    public static func setRate(
        _ connection: PostgresConnection, _ principal: Principal, resellerID: UUID, prefix: String, creditsPerSegment: Int64
    ) throws {
        let reseller = try Operations.account(connection, principal, resellerID, for: .managePackages)
        guard reseller.kind == .reseller else { throw DomainError.invalid("account", "rates belong to resellers") }
        guard prefix.wholeMatch(of: /[1-9][0-9]{0,5}/) != nil else {
            throw DomainError.invalid("prefix", "must be a calling-code prefix of 1 to 6 digits, e.g. 44 or 447")
        }
        guard (1...1000).contains(creditsPerSegment) else {
            throw DomainError.invalid("credits_per_segment", "must be between 1 and 1000")
        }
        try MessagingStore.setRate(connection, reseller: reseller, prefix: prefix, creditsPerSegment: creditsPerSegment)
    }

    // MARK: sending

    public struct SendInput: Sendable {
        public var to: String
        public var text: String
        public var mediaURLs: [String]
        public var sendAt: Date?

        public init(to: String, text: String, mediaURLs: [String], sendAt: Date?) {
            self.to = to
            self.text = text
            self.mediaURLs = mediaURLs
            self.sendAt = sendAt
        }
    }

    /// Validates, prices and reserves a message, then queues its dispatch (now or at `send_at`).
    public static func send(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        input: SendInput, now: Date = Date()
    ) throws -> MessageRecord {
        let account = try Operations.account(connection, principal, accountID, for: .consumeCredits)
        try Operations.requireActive(account)
        guard account.kind == .client else { throw DomainError.invalid("account", "messages are sent by client accounts") }
        let to = try PhoneNumber.parse(input.to)
        guard input.text.count <= 2000 else { throw DomainError.invalid("text", "must be at most 2000 characters") }
        for (index, url) in input.mediaURLs.enumerated() {
            _ = try Validate.httpURL(url, field: "media_urls[\(index)]")
        }
        guard let gateway = try MessagingStore.sendingConnection(connection, accountID: account.id, userID: principal.userID) else {
            throw DomainError(.conflict, "no gateway connection: link the office's or your own first")
        }
        // Refused before anything is reserved: an opted-out number is never charged.
        if try MessagingStore.isOptedOut(connection, accountID: account.id, phone: to.e164) {
            throw DomainError(
                .recipientOptedOut, "\(to.e164) has opted out (from/to pair violates a blacklist rule); nothing was charged",
                details: ["to": .string(to.e164)])
        }
        let price = try OutboundPricing.load(connection, account: account, gateway: gateway)
            .price(to: to, text: input.text, mediaCount: input.mediaURLs.count)
        var sendAt: Date?
        if let requested = input.sendAt, requested > now {
            guard account.effectiveFeatures.contains(.scheduling) else {
                throw DomainError(.featureDisabled, "scheduled sends need the scheduling feature", details: ["feature": .string("scheduling")])
            }
            guard requested < now.addingTimeInterval(366 * 86_400) else {
                throw DomainError.invalid("send_at", "must be within a year")
            }
            sendAt = requested
        }
        let messageID = UUID()
        let reservation = try LedgerStore.reserve(
            connection, context, account: account, unit: price.unit, amount: price.credits,
            reference: "message \(messageID.uuidString.lowercased())")
        var message = MessagingStore.NewMessage(
            account: account, userID: principal.userID, connectionID: gateway.id, direction: .outbound, unit: price.unit,
            sender: gateway.sender, recipient: to.e164, body: input.text, mediaURLs: input.mediaURLs,
            segments: price.segments, credits: price.credits, status: sendAt == nil ? .queued : .scheduled,
            reservationID: reservation.id, sendAt: sendAt)
        message.id = messageID
        let record = try MessagingStore.insert(connection, message)
        try MessagingStore.enqueue(connection, tenantID: account.tenantID, kind: .sendMessage, subjectID: messageID, runAt: sendAt)
        return record
    }

    /// The checks every outbound message passes and what it costs, for one account sending
    /// through one gateway: the rate table is read once, so a campaign prices each recipient
    /// without a query.
    public struct OutboundPricing: Sendable {
        let account: AccountRecord
        let gateway: GatewayConnectionRecord
        let rates: RateTable

        public static func load(_ connection: PostgresConnection, account: AccountRecord, gateway: GatewayConnectionRecord)
            throws -> OutboundPricing
        {
            let resellerID = account.path.count >= 2 ? account.path[account.path.count - 2] : account.id
            return OutboundPricing(
                account: account, gateway: gateway, rates: try MessagingStore.rates(connection, resellerID: resellerID))
        }

        public func price(to: PhoneNumber, text: String, mediaCount: Int) throws -> MessagePrice {
            let international = !to.hasPrefix(gateway.homePrefix)
            if international, !account.effectiveFeatures.contains(.international) {
                throw DomainError(
                    .featureDisabled, "sending abroad needs the international feature",
                    details: ["feature": .string("international")])
            }
            guard let creditsPerSegment = rates.rate(for: to) ?? (international ? nil : 1) else {
                throw DomainError.invalid("to", "no rate is set for destination \(to.e164); ask your reseller")
            }
            let price = try MessagePricing.price(text: text, mediaCount: mediaCount, creditsPerSegment: creditsPerSegment)
            try Operations.requireUnitAllowed(account, price.unit)
            if price.unit == .mms, gateway.provider == .kannel {
                throw DomainError.invalid("media_urls", "this gateway (Kannel) carries SMS only; MMS needs a twilio connection")
            }
            return price
        }
    }

    /// Cancels a message that has not gone yet: the reservation is voided, nothing is charged.
    public static func cancel(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, messageID: UUID
    ) throws -> MessageRecord {
        let (message, _) = try Operations.owned(
            connection, principal, try MessagingStore.lockMessage(connection, id: messageID), owner: \.accountID,
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
            let jobID = try MessagingStore.lockIdleJob(connection, subjectID: message.id)
        else { return nil }
        try MessagingStore.finish(connection, jobID: jobID, error: "cancelled")
        if let reservationID = message.reservationID, let reservation = try LedgerStore.lockReservation(connection, id: reservationID) {
            _ = try LedgerStore.void(connection, context, reservation: reservation)
        }
        return try MessagingStore.setStatus(connection, id: message.id, .cancelled, reason: "cancelled before it was sent")
    }

    public static func messages(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, direction: MessageDirection?,
        status: MessageStatus?, phone: String?, afterID: UUID?, limit: Int
    ) throws -> [MessageRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        let phone = try phone.map { try PhoneNumber.parse($0, field: "phone").e164 }
        return try MessagingStore.messages(
            connection, accountID: accountID, direction: direction, status: status, phone: phone, afterID: afterID,
            limit: limit)
    }

    // MARK: the dispatcher's side

    /// What a submission attempt came to.
    public enum SubmitOutcome: Sendable {
        case accepted
        case refused(reason: String)
    }

    /// Records the gateway's answer: accepted posts the reservation, refused voids it.
    public static func recordSubmission(
        _ connection: PostgresConnection, _ context: OperationContext, messageID: UUID, outcome: SubmitOutcome
    ) throws {
        guard let message = try MessagingStore.lockMessage(connection, id: messageID),
            message.status == .queued || message.status == .scheduled
        else { return }
        switch outcome {
        case .accepted:
            try markAccepted(connection, context, message)
        case .refused(let reason):
            let reservation = try message.reservationID.flatMap { try LedgerStore.lockReservation(connection, id: $0) }
            if let reservation, reservation.status == .pending {
                _ = try LedgerStore.void(connection, context, reservation: reservation)
            }
            try MessagingStore.setStatus(connection, id: messageID, .failed, reason: reason)
        }
    }

    /// The gateway took the message: its reservation is posted (charged) and it is `sent`.
    @discardableResult
    static func markAccepted(_ connection: PostgresConnection, _ context: OperationContext, _ message: MessageRecord) throws
        -> MessageRecord
    {
        if let reservation = try message.reservationID.flatMap({ try LedgerStore.lockReservation(connection, id: $0) }),
            reservation.status == .pending
        {
            _ = try LedgerStore.post(connection, context, reservation: reservation, amount: nil)
        }
        return try MessagingStore.setStatus(connection, id: message.id, .sent)
    }

    /// Applies a delivery report. Repeats and reports for finished messages change nothing.
    /// A report can overtake the gateway's answer to the submission (Kannel calls back as soon
    /// as the SMSC acknowledges): it proves the gateway accepted the message, so the message is
    /// marked accepted first, and the late answer then finds nothing left to do.
    public static func applyDeliveryReport(
        _ connection: PostgresConnection, _ context: OperationContext, gateway: GatewayConnectionRecord, messageID: UUID,
        status: Int
    ) throws {
        guard var message = try MessagingStore.lockMessage(connection, id: messageID), message.connectionID == gateway.id else {
            throw DomainError.notFound("message")
        }
        if message.status == .queued || message.status == .scheduled {
            message = try markAccepted(connection, context, message)
        }
        guard message.status == .sent else { return }
        if status & DeliveryStatus.delivered.rawValue != 0 {
            try MessagingStore.setStatus(connection, id: messageID, .delivered)
        } else if status & (DeliveryStatus.failed.rawValue | DeliveryStatus.smscRejected.rawValue) != 0 {
            if let reservationID = message.reservationID,
                let entry = try LedgerStore.lockPostEntry(connection, reservationID: reservationID),
                let account = try AccountStore.find(connection, id: message.accountID)
            {
                _ = try LedgerStore.refund(
                    connection, context, entry: entry, account: account, amount: nil,
                    reason: "message \(messageID.uuidString.lowercased()) was not delivered")
            }
            try MessagingStore.setStatus(
                connection, id: messageID, .failed,
                reason: status & DeliveryStatus.smscRejected.rawValue != 0 ? "rejected by the network" : "not delivered")
        }
    }

    /// An inbound message: opt keywords act on the opt-out list; an MMS is charged one credit;
    /// the message is linked to the first contact whose phone matches, in the account's
    /// configured field order. A repeat of a gateway message id returns the stored message and
    /// changes nothing (gateways retry callbacks).
    public static func receive(
        _ connection: PostgresConnection, _ context: OperationContext, gateway: GatewayConnectionRecord, from: String,
        text: String, mediaURLs: [String], gatewayMessageID: String? = nil
    ) throws -> MessageRecord {
        guard let account = try AccountStore.find(connection, id: gateway.accountID) else { throw DomainError.notFound("account") }
        let gatewayMessageID = gatewayMessageID.flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
        if let gatewayMessageID,
            let stored = try MessagingStore.lockInbound(connection, connectionID: gateway.id, gatewayMessageID: gatewayMessageID)
        {
            return stored
        }
        let sender = (try? PhoneNumber.parse(from.hasPrefix("+") ? from : "+" + from, field: "from"))?.e164 ?? from
        let contactID = try ContactStore.match(
            connection, accountID: account.id, phone: sender,
            order: try ContactStore.replyMatchOrder(connection, accountID: account.id))
        switch OptKeyword.parse(text) {
        case .optOut: try MessagingStore.optOut(connection, account: account, phone: sender, source: "keyword")
        case .optIn: _ = try MessagingStore.optIn(connection, accountID: account.id, phone: sender)
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
        var message = MessagingStore.NewMessage(
            account: account, userID: gateway.userID, connectionID: gateway.id, direction: .inbound,
            unit: isMMS ? .mms : .sms, sender: sender, recipient: gateway.sender, body: String(text.prefix(2000)),
            mediaURLs: Array(mediaURLs.prefix(MessagePricing.maxMediaURLs)), segments: isMMS ? 1 : Segmenter.count(text).segments,
            credits: isMMS && failure == nil ? 1 : 0, status: .received, failureReason: failure)
        message.contactID = contactID
        message.gatewayMessageID = gatewayMessageID
        let stored = try MessagingStore.insert(connection, message)
        // A reply (not a keyword) is routed when its owner forwards replies.
        if OptKeyword.parse(text) == nil,
            let userID = try replyOwner(connection, accountID: account.id, sender: sender, gateway: gateway),
            let routing = try ContactStore.replyRouting(connection, userID: userID), routing.channel != .none
        {
            try MessagingStore.enqueue(connection, tenantID: account.tenantID, kind: .routeReply, subjectID: stored.id, runAt: nil)
        }
        return stored
    }

    // MARK: reply routing

    /// Sets where replies to a user's messages go. Users who send set their own; admins anyone's below.
    public static func setReplyRouting(
        _ connection: PostgresConnection, _ principal: Principal, userID: UUID, channel: ReplyChannel, mobile: String?,
        email: String?
    ) throws -> ContactStore.ReplyRouting {
        let user = try Operations.user(
            connection, principal, userID, for: userID == principal.userID ? .consumeCredits : .manageUsers)
        let mobile = try mobile.map { try PhoneNumber.parse($0, field: "mobile").e164 }
        let email = try Validate.email(email)
        switch channel {
        case .mobile where mobile == nil: throw DomainError.invalid("mobile", "is required to forward replies to a mobile")
        case .email where (email ?? user.email) == nil:
            throw DomainError.invalid("email", "is required: the user has no email address")
        default: break
        }
        return try ContactStore.setReplyRouting(connection, user: user, channel: channel, mobile: mobile, email: email)
    }

    /// A user's reply routing holds its private mobile and email: the user itself and admins
    /// above it read it, colleagues do not.
    public static func replyRouting(_ connection: PostgresConnection, _ principal: Principal, userID: UUID) throws
        -> ContactStore.ReplyRouting
    {
        _ = try Operations.user(connection, principal, userID, for: userID == principal.userID ? .read : .manageUsers)
        return try ContactStore.replyRouting(connection, userID: userID)!
    }

    /// Whose a reply is: the user who last wrote to the number from this account, else the agent
    /// whose own connection received it.
    static func replyOwner(
        _ connection: PostgresConnection, accountID: UUID, sender: String, gateway: GatewayConnectionRecord
    ) throws -> UUID? {
        try ContactStore.lastWriter(connection, accountID: accountID, phone: sender) ?? gateway.userID
    }

    /// What a route_reply job needs: the reply, its account, and the user it belongs to.
    public struct ReplyToRoute: Sendable {
        public let message: MessageRecord
        public let account: AccountRecord
        public let user: UserRecord
        public let routing: ContactStore.ReplyRouting
    }

    public static func replyToRoute(_ connection: PostgresConnection, messageID: UUID) throws -> ReplyToRoute? {
        guard let message = try MessagingStore.message(connection, id: messageID), message.routedTo == nil,
            let account = try AccountStore.find(connection, id: message.accountID),
            let gateway = try message.connectionID.flatMap({ try MessagingStore.connection(connection, id: $0) }),
            let userID = try replyOwner(connection, accountID: account.id, sender: message.sender, gateway: gateway),
            let user = try UserStore.findUser(connection, id: userID),
            let routing = try ContactStore.replyRouting(connection, userID: userID)
        else { return nil }
        return ReplyToRoute(message: message, account: account, user: user, routing: routing)
    }

    /// Forwards a reply to the user's mobile: an ordinary outbound message, sent (and charged)
    /// as that user.
    public static func forwardReply(
        _ connection: PostgresConnection, _ context: OperationContext, _ reply: ReplyToRoute, to mobile: PhoneNumber
    ) throws -> MessageRecord {
        let principal = Principal(
            userID: reply.user.id, accountID: reply.account.id, tenantID: reply.account.tenantID, role: reply.user.role,
            accountKind: reply.account.kind)
        return try send(
            connection, principal, context, accountID: reply.account.id,
            input: .init(to: mobile.e164, text: String("Reply from \(reply.message.sender): \(reply.message.body)".prefix(600)),
                         mediaURLs: [], sendAt: nil))
    }

    // MARK: opt-outs

    public static func addOptOuts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, phones: [String]
    ) throws -> [String] {
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        guard (1...1000).contains(phones.count) else { throw DomainError.invalid("phones", "must hold 1 to 1000 numbers") }
        var added: [String] = []
        for (index, phone) in phones.enumerated() {
            let number = try PhoneNumber.parse(phone, field: "phones[\(index)]")
            try MessagingStore.optOut(connection, account: account, phone: number.e164, source: "admin")
            added.append(number.e164)
        }
        return added
    }

    public static func removeOptOut(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID, phone: String) throws {
        _ = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        let number = try PhoneNumber.parse(phone, field: "phone")
        guard try MessagingStore.optIn(connection, accountID: accountID, phone: number.e164) else {
            throw DomainError.notFound("opt-out")
        }
    }

    public static func optOuts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, after: String?, limit: Int
    ) throws -> [(phone: String, source: String, createdAt: Date)] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try MessagingStore.optOuts(connection, accountID: accountID, after: after, limit: limit)
    }
}
