import CreditDeskCore
import CreditDeskDB
import Foundation

/// A console session as authentication finds it.
package struct ConsoleSession: Sendable {
    package let principal: Principal
    /// Names the session in the audit log; not its token, nor a hash of it.
    package let sessionID: UUID
    package let userName: String
    package let csrfToken: String
    package let accountSuspended: Bool
    /// The user's chosen console language; nil follows the browser.
    package let language: String?
}

/// Passwords, console sessions and failed sign-ins. Session tokens are 256 random bits; only
/// their SHA-256 is stored. Expiry: idle after `Limits.sessionIdleSeconds`, absolutely after
/// `Limits.sessionLifetimeSeconds`.
package enum ConsoleStore {
    static let upsertPassword = """
        INSERT INTO user_passwords (user_id, login, hash) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) DO UPDATE SET login = excluded.login, hash = excluded.hash, updated_at = now()
        """
    static let selectPassword = """
        SELECT p.user_id, p.hash FROM user_passwords p JOIN users u ON u.id = p.user_id
        WHERE p.login = $1 AND u.status = 'active'
        """
    static let insertSession = "INSERT INTO console_sessions (token_hash, user_id, csrf_token) VALUES ($1, $2, $3)"
    static let selectSession = """
        SELECT s.id AS session_id, u.id AS user_id, u.account_id, u.tenant_id, u.role, u.name, u.language, a.kind,
               s.csrf_token,
               EXISTS (SELECT 1 FROM accounts p WHERE p.id = ANY (a.path) AND p.status = 'suspended') AS suspended,
               (s.last_seen_at < now() - interval '60 seconds') AS stale
        FROM console_sessions s JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = u.account_id
        WHERE s.token_hash = $1 AND u.status = 'active'
          AND s.last_seen_at > now() - make_interval(secs => $2)
          AND s.created_at > now() - make_interval(secs => $3)
        """
    static let touchSession = "UPDATE console_sessions SET last_seen_at = now() WHERE token_hash = $1"
    static let deleteSession = "DELETE FROM console_sessions WHERE token_hash = $1"
    static let deleteUserSessions = "DELETE FROM console_sessions WHERE user_id = $1"
    static let insertFailure = "INSERT INTO sign_in_failures (subject) VALUES ($1)"
    static let countFailures = """
        SELECT count(*) AS failures FROM sign_in_failures
        WHERE subject = $1 AND failed_at > now() - make_interval(secs => $2)
        """
    static let insertLink = """
        INSERT INTO password_links (token_hash, user_id, created_by, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4))
        """
    static let selectLink = """
        SELECT l.user_id FROM password_links l JOIN users u ON u.id = l.user_id
        WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.status = 'active'
        """
    static let claimLink = """
        UPDATE password_links l SET used_at = now() FROM users u
        WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.id = l.user_id AND u.status = 'active'
        RETURNING l.user_id
        """
    static let setLanguage = "UPDATE users SET language = $2 WHERE id = $1"
    static let selectLanguage = "SELECT language FROM users WHERE id = $1"
    static let pruneFailures = "DELETE FROM sign_in_failures WHERE failed_at < now() - make_interval(secs => $1)"

    package static func setPassword(_ connection: PostgresConnection, userID: UUID, login: String, hash: String) throws {
        try connection.execute(upsertPassword, [userID, login, hash])
    }

    /// The user and bcrypt hash behind a login, if an active user has it.
    package static func password(_ connection: PostgresConnection, login: String) throws -> (userID: UUID, hash: String)? {
        guard let row = try connection.execute(selectPassword, [login]).first else { return nil }
        return (try row.decode(UUID.self, "user_id"), try row.decode(String.self, "hash"))
    }

    /// A new session for `userID`: answers the token (for the cookie) and the CSRF token.
    package static func createSession(_ connection: PostgresConnection, userID: UUID) throws -> (token: String, csrf: String) {
        let token = SecureRandom.token(), csrf = SecureRandom.token()
        try connection.execute(insertSession, [Digest.sha256(Array(token.utf8)), userID, csrf])
        return (token, csrf)
    }

    package static func session(_ connection: PostgresConnection, token: String) throws -> ConsoleSession? {
        guard token.count < 100 else { return nil }
        let hash = Digest.sha256(Array(token.utf8))
        guard
            let row = try connection.execute(
                selectSession, [hash, Limits.sessionIdleSeconds, Limits.sessionLifetimeSeconds]
            ).first,
            let role = Role(rawValue: try row.decode(String.self, "role")),
            let kind = AccountKind(rawValue: try row.decode(String.self, "kind"))
        else { return nil }
        if try row.decode(Bool.self, "stale") { try connection.execute(touchSession, [hash]) }
        return ConsoleSession(
            principal: Principal(
                userID: try row.decode(UUID.self, "user_id"), accountID: try row.decode(UUID.self, "account_id"),
                tenantID: try row.decode(UUID.self, "tenant_id"), role: role, accountKind: kind),
            sessionID: try row.decode(UUID.self, "session_id"), userName: try row.decode(String.self, "name"), csrfToken: try row.decode(String.self, "csrf_token"),
            accountSuspended: try row.decode(Bool.self, "suspended"), language: try row.decode(String?.self, "language"))
    }

    package static func endSession(_ connection: PostgresConnection, token: String) throws {
        try connection.execute(deleteSession, [Digest.sha256(Array(token.utf8))])
    }

    package static func endSessions(_ connection: PostgresConnection, userID: UUID) throws {
        try connection.execute(deleteUserSessions, [userID])
    }

    /// A one-time password link for `userID`, made by `createdBy`: answers its token.
    package static func createPasswordLink(_ connection: PostgresConnection, userID: UUID, createdBy: UUID) throws -> String {
        let token = SecureRandom.token()
        try connection.execute(insertLink, [Digest.sha256(Array(token.utf8)), userID, createdBy, Limits.passwordLinkSeconds])
        return token
    }

    /// The user a live, unused link is for; `claim` uses the link up (once, under concurrency).
    package static func passwordLinkUser(_ connection: PostgresConnection, token: String, claim: Bool) throws -> UUID? {
        guard token.count < 100 else { return nil }
        return try connection.execute(claim ? claimLink : selectLink, [Digest.sha256(Array(token.utf8))]).first?
            .decode(UUID.self, "user_id")
    }

    /// The console language a user chose; nil follows the browser.
    package static func setLanguage(_ connection: PostgresConnection, userID: UUID, language: String?) throws {
        try connection.execute(setLanguage, [userID, language])
    }

    package static func language(_ connection: PostgresConnection, userID: UUID) throws -> String? {
        try connection.execute(selectLanguage, [userID]).first?.decode(String?.self, "language") ?? nil
    }

    package static func recordFailure(_ connection: PostgresConnection, subjects: [String]) throws {
        try connection.execute(pruneFailures, [Limits.signInWindowSeconds])
        for subject in subjects { try connection.execute(insertFailure, [String(subject.prefix(400))]) }
    }

    package static func recentFailures(_ connection: PostgresConnection, subject: String) throws -> Int64 {
        try connection.execute(countFailures, [String(subject.prefix(400)), Limits.signInWindowSeconds]).first?
            .decode(Int64.self, "failures") ?? 0
    }
}
