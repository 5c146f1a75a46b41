import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Reply routing (who gets a reply, and how) and the opt-out list.
extension MessagingOperations {
    /// Sets where replies to a user's messages go. Users who send set their own; admins anyone's below.
    package static func setReplyRouting(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, userID: UUID,
        channel: ReplyChannel, mobile: String?, email: String?
    ) throws -> ReplyRoutingStore.ReplyRouting {
        let (user, account) = try Operations.userAndAccount(
            connection, principal, userID, for: userID == principal.userID ? .consumeCredits : .manageUsers)
        let mobile = try mobile.map { try PhoneNumber.parse($0, field: "mobile").e164 }
        let email = try Validate.email(email)
        switch channel {
        case .mobile where mobile == nil: throw DomainError.invalid("mobile", "is required to forward replies to a mobile")
        case .email where (email ?? user.email) == nil:
            // The request is well formed; the user's record lacks what it needs.
            throw DomainError(
                .conflict, "email: is required: the user has no email address", details: ["field": .string("email")])
        default: break
        }
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let before = try ReplyRoutingStore.replyRouting(connection, userID: userID)
        let after = try ReplyRoutingStore.setReplyRouting(connection, user: user, channel: channel, mobile: mobile, email: email)
        let fields = { (routing: ReplyRoutingStore.ReplyRouting?) -> [String: AuditValue?] in
            [
                "channel": routing.map { .text($0.channel.rawValue) }, "mobile": routing?.mobile.map(AuditValue.text),
                "email": routing?.email.map(AuditValue.text),
            ]
        }
        try AuditStore.appendChanges(
            connection, context, account: account, .replyRoutingChanged, objectID: userID.lower, before: fields(before),
            after: fields(after))
        return after
    }

    /// A user's reply routing holds its private mobile and email: the user itself and admins
    /// above it read it, colleagues do not.
    package static func replyRouting(_ connection: PostgresConnection, _ principal: Principal, userID: UUID) throws
        -> ReplyRoutingStore.ReplyRouting
    {
        _ = try Operations.user(connection, principal, userID, for: userID == principal.userID ? .read : .manageUsers)
        return try ReplyRoutingStore.replyRouting(connection, userID: userID)!
    }

    /// Whose a reply is: the user who last wrote to the number from this account, else the agent
    /// whose own connection received it.
    static func replyOwner(
        _ connection: PostgresConnection, accountID: UUID, sender: String, gateway: GatewayConnectionRecord
    ) throws -> UUID? {
        try ReplyRoutingStore.lastWriter(connection, accountID: accountID, phone: sender) ?? gateway.userID
    }

    /// What a route_reply job needs: the reply, its account, and the user it belongs to.
    package struct ReplyToRoute: Sendable {
        package let message: MessageRecord
        package let account: AccountRecord
        package let user: UserRecord
        package let routing: ReplyRoutingStore.ReplyRouting
    }

    package static func replyToRoute(_ connection: PostgresConnection, messageID: UUID) throws -> ReplyToRoute? {
        guard let message = try MessageStore.message(connection, id: messageID), message.routedTo == nil,
            let account = try AccountStore.find(connection, id: message.accountID),
            let gateway = try message.connectionID.flatMap({ try GatewayStore.connection(connection, id: $0) }),
            let userID = try replyOwner(connection, accountID: account.id, sender: message.sender, gateway: gateway),
            let user = try UserStore.findUser(connection, id: userID),
            let routing = try ReplyRoutingStore.replyRouting(connection, userID: userID)
        else { return nil }
        return ReplyToRoute(message: message, account: account, user: user, routing: routing)
    }

    /// Forwards a reply to the user's mobile: an ordinary outbound message, sent (and charged)
    /// as that user.
    package static func forwardReply(
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

    package static func addOptOuts(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        phones: [String]
    ) throws -> [String] {
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        guard (1...1000).contains(phones.count) else { throw DomainError.invalid("phones", "must hold 1 to 1000 numbers") }
        var added: [String] = []
        for (index, phone) in phones.enumerated() {
            let number = try PhoneNumber.parse(phone, field: "phones[\(index)]")
            try OptOutStore.optOut(connection, account: account, phone: number.e164, source: "admin")
            added.append(number.e164)
        }
        try auditOptOuts(connection, context, account: account, added, source: "admin")
        return added
    }

    /// One audit row for a batch of numbers put on the opt-out list by an admin.
    static func auditOptOuts(
        _ connection: PostgresConnection, _ context: OperationContext, account: AccountRecord, _ phones: [String],
        source: String
    ) throws {
        guard !phones.isEmpty else { return }
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(
                .optOutsAdded, objectID: account.id,
                changes: .created(["phones": .list(phones), "count": .number(Int64(phones.count)), "source": .text(source)])))
    }

    package static func removeOptOut(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        phone: String
    ) throws {
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        let number = try PhoneNumber.parse(phone, field: "phone")
        guard try OptOutStore.optIn(connection, accountID: accountID, phone: number.e164) else {
            throw DomainError.notFound("opt-out")
        }
        try AuditStore.append(
            connection, context, account: account,
            AuditEvent(.optOutRemoved, objectID: number.e164, changes: [.init(field: "opted_out", before: .flag(true), after: .flag(false))]))
    }

    package static func optOuts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, after: String?, limit: Int
    ) throws -> [(phone: String, source: String, createdAt: Date)] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try OptOutStore.optOuts(connection, accountID: accountID, after: after, limit: limit)
    }
}
