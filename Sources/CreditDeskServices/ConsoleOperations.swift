import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation
import HummingbirdBcrypt

/// Passwords and console sign-in. bcrypt (cost `bcryptCost`) runs outside any transaction, so
/// a slow hash never holds a connection or a lock.
package enum ConsoleOperations {
    /// bcrypt's work factor: about a quarter of a second a hash on this class of machine.
    package static let bcryptCost: UInt8 = 12
    /// A hash of a random password, verified against when a login is unknown, so that an
    /// unknown login takes as long to refuse as a wrong password.
    static let decoyHash = Bcrypt.hash(UUID().uuidString, cost: bcryptCost)

    /// What bcrypt is given: the password's SHA-256 in base64url (43 characters), so a
    /// password of any length counts whole (bcrypt reads 72 bytes at most) and holds no NUL.
    static func bcryptInput(_ password: String) -> String { Base64URL.encode(Digest.sha256(Array(password.utf8))) }

    /// Sets a user's password, signing it in with its email (see `storePassword`).
    package static func setPassword(
        pool: DatabasePool, _ principal: Principal, origin: RequestOrigin, requestID: String?, userID: UUID,
        password: String
    ) async throws {
        let hash = try hashPassword(password)
        _ = try await pool.withOperation(actorUserID: principal.userID, requestID: requestID, origin: origin) {
            try storePassword($0, principal, $1, userID: userID, hash: hash)
        }
    }

    /// A new password's bcrypt hash, after validation. Slow by design: call it outside any
    /// transaction.
    package static func hashPassword(_ password: String) throws -> String {
        Bcrypt.hash(bcryptInput(try Validate.password(password)), cost: bcryptCost)
    }

    /// Stores a password hash for the user, who signs in with its email (see `authorize`). Ends
    /// the user's console sessions. Answers the login.
    package static func storePassword(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, userID: UUID, hash: String
    ) throws -> String {
        try write(connection, context, user: try authorize(connection, principal, userID: userID), hash: hash)
    }

    /// Who may set a user's password: the user itself, or an admin who manages users on the
    /// user's account (only an operator for an operator). The user needs an email to sign in with.
    static func authorize(_ connection: PostgresConnection, _ principal: Principal, userID: UUID) throws -> UserRecord {
        guard let user = try UserStore.findUser(connection, id: userID) else { throw DomainError.notFound("user") }
        if user.id != principal.userID {
            _ = try Operations.account(connection, principal, user.accountID, for: .manageUsers)
            if user.role == .operator, principal.role != .operator {
                throw DomainError(.forbidden, "only an operator may set an operator's password")
            }
        }
        guard user.email != nil else {
            // A well-formed request the user's state does not allow: a conflict, not a bad value.
            throw DomainError(.conflict, "the user needs an email address to sign in with", details: ["field": .string("email")])
        }
        return user
    }

    /// Stores the hash and writes down that the password was set (never the password, nor its hash).
    static func write(_ connection: PostgresConnection, _ context: OperationContext, user: UserRecord, hash: String)
        throws -> String
    {
        let login = (user.email ?? "").lowercased()
        do {
            try ConsoleStore.setPassword(connection, userID: user.id, login: login, hash: hash)
        } catch let error as DatabaseError where error.code == .uniqueViolation {
            // Logins are unique: another user with the same email (in any case) signs in with it.
            throw DomainError(
                .conflict, "another user already signs in with this email address; give this user another one",
                details: ["field": .string("email")])
        }
        try ConsoleStore.endSessions(connection, userID: user.id)
        if let account = try AccountStore.find(connection, id: user.accountID) {
            try AuditStore.append(
                connection, context, account: account,
                AuditEvent(.userPasswordSet, objectID: user.id, changes: .created(["login": .text(login)])))
        }
        return login
    }

    /// A one-time link's token for the user to set a password within 24 hours; whoever may set
    /// the password may make one.
    package static func createPasswordLink(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, userID: UUID
    ) throws -> String {
        let user = try authorize(connection, principal, userID: userID)
        let token = try ConsoleStore.createPasswordLink(connection, userID: user.id, createdBy: principal.userID)
        if let account = try AccountStore.find(connection, id: user.accountID) {
            try AuditStore.append(connection, context, account: account, AuditEvent(.userPasswordLinkCreated, objectID: user.id))
        }
        return token
    }

    /// Sets the password a link is for and uses the link up; refused when the link has expired
    /// or was used (a second, concurrent use finds it claimed). Answers the login.
    /// The link's user is the actor: whoever holds the link acts as that user.
    package static func redeemPasswordLink(
        pool: DatabasePool, token: String, password: String, origin: RequestOrigin, requestID: String?
    ) async throws -> String {
        let hash = try hashPassword(password)
        return try await pool.withRetryingTransaction { connection in
            guard let userID = try ConsoleStore.passwordLinkUser(connection, token: token, claim: true),
                let user = try UserStore.findUser(connection, id: userID)
            else { throw DomainError(.notFound, "this link has expired or has been used; ask for a new one") }
            let context = OperationContext(actorUserID: user.id, requestID: requestID, origin: origin)
            return try write(connection, context, user: user, hash: hash)
        }
    }

    /// The console language a user chooses for itself (one of `supported`), or nil to follow
    /// the browser.
    package static func setLanguage(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, language: String?,
        supported: [String]
    ) throws {
        if let language, !supported.contains(language) {
            throw DomainError.invalid("language", "is one of \(supported.joined(separator: ", "))")
        }
        guard let account = try AccountStore.find(connection, id: principal.accountID) else {
            throw DomainError.notFound("user")
        }
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let before = try ConsoleStore.language(connection, userID: principal.userID)
        try ConsoleStore.setLanguage(connection, userID: principal.userID, language: language)
        try AuditStore.appendChanges(
            connection, context, account: account, .userLanguageChanged, objectID: principal.userID.lower,
            before: ["language": before.map(AuditValue.text)], after: ["language": language.map(AuditValue.text)])
    }

    /// Signs in with a login (email) and password from `address`: a new session's token and
    /// CSRF token. Refused alike for an unknown login and a wrong password; throttled per login
    /// and per address.
    package static func signIn(
        pool: DatabasePool, login: String, password: String, address: String
    ) async throws -> (token: String, csrf: String) {
        let login = login.trimmingCharacters(in: .whitespaces).lowercased()
        let subjects = ["login:\(login)", "address:\(address)"]
        let stored = try await pool.withTransaction { connection in
            let byLogin = try ConsoleStore.recentFailures(connection, subject: subjects[0])
            let byAddress = try ConsoleStore.recentFailures(connection, subject: subjects[1])
            if byLogin >= Limits.maxSignInFailuresPerLogin || byAddress >= Limits.maxSignInFailuresPerAddress {
                throw DomainError(
                    .tooManyAttempts,
                    "too many failed sign-ins; wait \(Limits.signInWindowSeconds / 60) minutes and try again")
            }
            return try ConsoleStore.password(connection, login: login)
        }
        let matches =
            password.unicodeScalars.count <= Limits.maxPasswordLength
            && Bcrypt.verify(bcryptInput(password), hash: stored?.hash ?? decoyHash)
        guard let stored, matches else {
            try await pool.withTransaction { try ConsoleStore.recordFailure($0, subjects: subjects) }
            throw DomainError(.unauthorized, "the email or the password is wrong")
        }
        return try await pool.withTransaction { try ConsoleStore.createSession($0, userID: stored.userID) }
    }
}
