import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Users, their API keys, and the bootstrap that creates the first of them.
extension Operations {
    // MARK: users and keys

    package static func createUser(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        name: String, email: String?, role: Role
    ) throws -> UserRecord {
        let target = try account(connection, principal, accountID, for: .manageUsers)
        guard target.kind.allowedRoles.contains(role) else {
            throw DomainError.wrongKind(
                "role",
                "a \(target.kind.rawValue) account's users can be \(target.kind.allowedRoles.map(\.rawValue).sorted().joined(separator: ", "))"
            )
        }
        // Nobody hands out more power than they hold: a client admin cannot mint a platform operator.
        if target.id == principal.accountID, role == .operator, principal.role != .operator {
            throw DomainError(.forbidden, "only an operator may create operators")
        }
        let user = try UserStore.createUser(
            connection, account: target, name: try Validate.name(name), email: try Validate.email(email), role: role)
        try AuditStore.append(connection, context, account: target, Self.created(user))
        return user
    }

    static func created(_ user: UserRecord) -> AuditEvent {
        AuditEvent(
            .userCreated, objectID: user.id,
            changes: .created([
                "name": .text(user.name), "email": user.email.map(AuditValue.text), "role": .text(user.role.rawValue),
            ]))
    }

    static func created(_ key: APIKeyRecord) -> AuditEvent {
        AuditEvent(
            .keyCreated, objectID: key.id,
            changes: .created([
                "user_id": .text(key.userID.lower), "label": .text(key.label), "scope": .text(key.limits.scope.rawValue),
                "allowed_addresses": key.limits.allowedAddresses.isEmpty ? nil : .list(key.limits.allowedAddresses.map(\.description)),
                "expires_at": key.limits.expiresAt.map { .text(ISO8601.format($0)) },
            ]))
    }

    package static func users(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [UserRecord]
    {
        _ = try account(connection, principal, accountID, for: .read)
        return try UserStore.users(connection, accountID: accountID)
    }

    static func user(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action) throws
        -> UserRecord
    {
        try userAndAccount(connection, principal, id, for: action).0
    }

    /// The user and its account, if `principal` may do `action` to it.
    static func userAndAccount(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action)
        throws -> (UserRecord, AccountRecord)
    {
        try owned(connection, principal, try UserStore.findUser(connection, id: id), owner: \.accountID, for: action, what: "user")
    }

    /// A key for `userID` with `limits`; made through a key with limits of its own (`creator`),
    /// the new one gets no more than those (`KeyLimits.check`).
    package static func createKey(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, userID: UUID,
        label: String, limits: KeyLimits = .unrestricted, creator: KeyLimits? = nil
    ) throws -> (APIKeyRecord, secret: String) {
        // Users may always make keys for themselves; for others it takes user management.
        let (user, account) = try userAndAccount(
            connection, principal, userID, for: userID == principal.userID ? .read : .manageUsers)
        guard label.count <= Limits.maxNameLength else {
            throw DomainError.invalid("label", "must be at most \(Limits.maxNameLength) characters")
        }
        try creator?.check(creating: limits)
        let (key, secret) = try UserStore.createKey(connection, user: user, label: label, limits: limits)
        try AuditStore.append(connection, context, account: account, Self.created(key))
        return (key, secret)
    }

    package static func keys(_ connection: PostgresConnection, _ principal: Principal, userID: UUID) throws
        -> [APIKeyRecord]
    {
        _ = try user(connection, principal, userID, for: userID == principal.userID ? .read : .manageUsers)
        return try UserStore.keys(connection, userID: userID)
    }

    /// Revokes a key; revoking a revoked key changes nothing (and writes no audit row).
    package static func revokeKey(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, keyID: UUID
    ) throws -> APIKeyRecord {
        guard let key = try UserStore.findKey(connection, id: keyID) else { throw DomainError.notFound("key") }
        let account: AccountRecord
        do {
            account = try userAndAccount(
                connection, principal, key.userID, for: key.userID == principal.userID ? .read : .manageUsers
            ).1
        } catch let error as DomainError where error.code == .notFound {
            throw DomainError.notFound("key")
        }
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let before = try UserStore.findKey(connection, id: keyID)!
        try UserStore.revokeKey(connection, id: keyID)
        let after = try UserStore.findKey(connection, id: keyID)!
        try AuditStore.appendChanges(
            connection, context, account: account, .keyRevoked, objectID: keyID.lower,
            before: ["revoked": .flag(before.revokedAt != nil)], after: ["revoked": .flag(after.revokedAt != nil)])
        return after
    }

    // MARK: bootstrap

    /// Creates the platform account and its first operator, once. Returns the key's secret.
    package static func bootstrap(
        _ connection: PostgresConnection, operatorName: String, email: String?,
        context: OperationContext = OperationContext(actorUserID: nil, requestID: "bootstrap", origin: .library)
    ) throws -> (AccountRecord, UserRecord, secret: String) {
        if try AccountStore.platform(connection) != nil {
            throw DomainError(.conflict, "the platform already exists; bootstrap runs once")
        }
        let platform = try AccountStore.create(
            connection, parent: nil, kind: .platform, name: "Platform", features: Set(Feature.allCases))
        let user = try UserStore.createUser(
            connection, account: platform, name: try Validate.name(operatorName), email: try Validate.email(email),
            role: .operator)
        let (key, secret) = try UserStore.createKey(connection, user: user, label: "bootstrap")
        try AuditStore.append(connection, context, account: platform, Self.created(platform))
        try AuditStore.append(connection, context, account: platform, Self.created(user))
        try AuditStore.append(connection, context, account: platform, Self.created(key))
        return (platform, user, secret)
    }
}
