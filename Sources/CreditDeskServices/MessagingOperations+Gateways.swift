import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Gateway connections: linking an office's or an agent's own, callbacks' authentication, key rotation, rates.
extension MessagingOperations {
    package struct GatewayInput: Sendable {
        package var provider: GatewayProvider
        package var name: String
        package var baseURL: String
        package var username: String
        package var password: String
        package var sender: String
        package var homePrefix: String
        package var userID: UUID?
        package var limits: GatewayLimits

        package init(
            provider: GatewayProvider, name: String, baseURL: String, username: String, password: String, sender: String,
            homePrefix: String, userID: UUID?, limits: GatewayLimits = .default
        ) {
            self.provider = provider
            self.name = name
            self.baseURL = baseURL
            self.username = username
            self.password = password
            self.sender = sender
            self.homePrefix = homePrefix
            self.userID = userID
            self.limits = limits
        }
    }

    /// Creates a connection and returns it with its callback token (shown this once). The office
    /// connection (no user) needs an admin; an agent may link its own.
    package static func createGateway(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        input: GatewayInput, box: SecretBox
    ) throws -> (GatewayConnectionRecord, callbackToken: String) {
        let account = try Operations.account(connection, principal, accountID, for: .read)
        guard account.kind == .client else {
            throw DomainError.wrongKind("account", "gateway connections belong to client accounts")
        }
        if let userID = input.userID {
            guard let user = try UserStore.findUser(connection, id: userID), user.accountID == account.id else {
                throw DomainError(.notFound, "user not found in this account", details: ["field": .string("user_id")])
            }
        }
        try checkManages(principal, connectionOf: input.userID, in: account)
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
            let record = try GatewayStore.createConnection(
                connection, account: account, userID: input.userID, provider: input.provider, name: name,
                baseURL: input.baseURL, username: input.username, sender: input.sender, homePrefix: input.homePrefix,
                limits: input.limits, seal: { id in (box.seal(Array(input.password.utf8), associatedData: Array(id.uuidString.lowercased().utf8)), box.keyID) },
                callbackTokenHash: Digest.sha256(Array(token.utf8)))
            // The password and the callback token are secrets: neither is written down.
            try AuditStore.append(
                connection, context, account: account,
                AuditEvent(
                    .gatewayCreated, objectID: record.id,
                    changes: .created(
                        auditFields(record.limits).merging([
                            "name": .text(record.name), "provider": .text(record.provider.rawValue),
                            "base_url": .text(record.baseURL), "username": .text(record.username),
                            "sender": .text(record.sender), "home_prefix": .text(record.homePrefix),
                            "user_id": record.userID.map { .text($0.lower) },
                        ]) { first, _ in first })))
            return (record, token)
        } catch let error as DatabaseError where error.code == .uniqueViolation {
            throw DomainError(
                .conflict, input.userID == nil ? "the office already has a gateway connection" : "this user already has one")
        }
    }

    /// Who may link or change a connection: an admin for the office's; for an agent's own, the
    /// agent too, with a role that sends (not a read-only one).
    static func checkManages(_ principal: Principal, connectionOf userID: UUID?, in account: AccountRecord) throws {
        let needed: Action = userID != nil && userID == principal.userID ? .consumeCredits : .manageMessaging
        try Authorization.check(principal, needed, targetPath: account.path)
    }

    /// Sets how hard the connection may be driven; the dispatchers pick it up with their next
    /// batch.
    package static func setGatewayLimits(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, gatewayID: UUID,
        limits: GatewayLimits
    ) throws -> GatewayConnectionRecord {
        let (gateway, account) = try Operations.owned(
            connection, principal, try GatewayStore.connection(connection, id: gatewayID), owner: \.accountID, for: .read,
            what: "gateway connection")
        try Operations.requireActive(account)
        try checkManages(principal, connectionOf: gateway.userID, in: account)
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let before = try GatewayStore.connection(connection, id: gatewayID)?.limits ?? gateway.limits
        let after = try GatewayStore.setLimits(connection, id: gateway.id, limits)
        try AuditStore.appendChanges(
            connection, context, account: account, .gatewayLimitsChanged, objectID: gatewayID.lower,
            before: auditFields(before), after: auditFields(after.limits))
        return after
    }

    static func auditFields(_ limits: GatewayLimits) -> [String: AuditValue?] {
        [
            "max_concurrency": .number(Int64(limits.maxConcurrency)),
            "max_messages_per_second": limits.maxMessagesPerSecond.map { .number(Int64($0)) },
        ]
    }

    package static func gateways(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [GatewayConnectionRecord]
    {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try GatewayStore.connections(connection, accountID: accountID)
    }

    /// The connection a callback names, if its token matches (compared as hashes, so timing
    /// says nothing about the stored value).
    package static func authenticateCallback(_ connection: PostgresConnection, connectionID: UUID, token: String) throws
        -> GatewayConnectionRecord
    {
        guard let record = try GatewayStore.connection(connection, id: connectionID),
            Digest.sha256(Array(token.utf8)) == record.callbackTokenHash
        else { throw DomainError(.unauthorized, "unknown gateway connection or wrong callback token") }
        return record
    }

    /// Re-seals every gateway connection's and webhook endpoint's secret under `newBox`; values
    /// already under it are skipped. Answers how many of each it resealed.
    package static func reencryptSecrets(_ connection: PostgresConnection, oldBox: SecretBox, newBox: SecretBox) throws
        -> (gateways: Int, webhooks: Int)
    {
        let gateways = try reseal(try GatewayStore.lockAllSecrets(connection), "connection", oldBox, newBox) {
            try GatewayStore.reseal(connection, id: $0, sealed: $1, keyID: $2)
        }
        let webhooks = try reseal(try WebhookStore.lockAllSecrets(connection), "webhook", oldBox, newBox) {
            try WebhookStore.reseal(connection, id: $0, sealed: $1, keyID: $2)
        }
        return (gateways, webhooks)
    }

    /// Opens each secret (sealed with its owner's id as associated data) with `oldBox` and
    /// stores it sealed with `newBox`.
    static func reseal(
        _ secrets: [(id: UUID, sealed: [UInt8], keyID: String)], _ owner: String, _ oldBox: SecretBox, _ newBox: SecretBox,
        store: (UUID, [UInt8], String) throws -> Void
    ) throws -> Int {
        var changed = 0
        for secret in secrets where secret.keyID != newBox.keyID {
            let associated = Array(secret.id.uuidString.lowercased().utf8)
            guard let plain = oldBox.open(secret.sealed, associatedData: associated) else {
                throw DomainError(.invalidRequest, "the old key does not open the secret of \(owner) \(secret.id)")
            }
            try store(secret.id, newBox.seal(plain, associatedData: associated), newBox.keyID)
            changed += 1
        }
        return changed
    }

    package static func setRate(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, resellerID: UUID,
        prefix: String, creditsPerSegment: Int64
    ) throws {
        let reseller = try Operations.account(connection, principal, resellerID, for: .managePackages)
        guard reseller.kind == .reseller else { throw DomainError.wrongKind("account", "rates belong to resellers") }
        guard prefix.wholeMatch(of: /[1-9][0-9]{0,5}/) != nil else {
            throw DomainError.invalid("prefix", "must be a calling-code prefix of 1 to 6 digits, e.g. 44 or 447")
        }
        guard (1...1000).contains(creditsPerSegment) else {
            throw DomainError.invalid("credits_per_segment", "must be between 1 and 1000")
        }
        try AuditStore.lock(connection, tenantID: reseller.tenantID)
        let before = try RateStore.rates(connection, resellerID: reseller.id).credits(exactly: prefix)
        try RateStore.setRate(connection, reseller: reseller, prefix: prefix, creditsPerSegment: creditsPerSegment)
        try AuditStore.appendChanges(
            connection, context, account: reseller, .rateSet, objectID: prefix,
            before: ["credits_per_segment": before.map(AuditValue.number)], after: ["credits_per_segment": .number(creditsPerSegment)])
    }

    package static func rates(_ connection: PostgresConnection, _ principal: Principal, resellerID: UUID) throws -> RateTable {
        let reseller = try Operations.account(connection, principal, resellerID, for: .read)
        guard reseller.kind == .reseller else { throw DomainError.wrongKind("account", "rates belong to resellers") }
        return try RateStore.rates(connection, resellerID: reseller.id)
    }

    /// What the compose form needs to estimate a message's credits as it is typed: the home
    /// calling code of the connection the user sends through (nil without one) and its
    /// reseller's rates. The price charged is still the one `send` computes.
    package static func composeHints(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> (homePrefix: String?, rates: RateTable)
    {
        let account = try Operations.account(connection, principal, accountID, for: .read)
        let gateway = try GatewayStore.sendingConnection(connection, accountID: account.id, userID: principal.userID)
        return (gateway?.homePrefix, try RateStore.rates(connection, resellerID: account.pricingAccountID))
    }
}
