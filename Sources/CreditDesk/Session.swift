import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Acting as one user: every call is authorized exactly as the JSON API authorizes that user's
/// key, on the accounts at and below the user's own.
///
/// Mutations take an `idempotencyKey`: a retried call with the same key (after a timeout, a
/// crash, a lost answer) applies once and answers what the first call answered; the same key
/// for a different request throws `idempotency_conflict`. Without a key, each call applies.
/// Every mutation is written down with the acting user, for audit.
public struct Session: Sendable {
    let desk: Desk
    let principal: Principal

    /// The user this session acts as.
    public var userID: UUID { principal.userID }
    /// The user's account.
    public var accountID: UUID { principal.accountID }
    /// The user's role.
    public var role: Role { principal.role.sameCase() }

    /// A read in one consistent snapshot.
    func read<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection, Principal) throws -> T) async throws -> T {
        let principal = self.principal
        return try await Desk.mapping {
            try await desk.pool.withTransaction(isolation: .repeatableRead, readOnly: true) { try work($0, principal) }
        }
    }

    /// A mutation through the one idempotent runner every front door uses. `operation` and
    /// `input` are the request's fingerprint; `withoutSecret` is what a replay may answer.
    func mutate<Result: Codable & Sendable>(
        _ operation: String, _ input: some Encodable, key: String?, withoutSecret: (@Sendable (Result) -> Result)? = nil,
        _ work: @escaping @Sendable (PostgresConnection, Principal, OperationContext) throws -> Result
    ) async throws -> Result {
        let principal = self.principal
        let fingerprint = "library \(operation)\n" + String(decoding: try Self.encoder.encode(input), as: UTF8.self)
        let outcome = try await Desk.mapping {
            try await IdempotentMutation.run(
                pool: desk.pool, principal: principal, origin: .library, key: try Validate.idempotencyKey(key ?? UUID().uuidString),
                requestHash: Digest.sha256Hex(fingerprint), requestID: "library", status: 200,
                render: { result in
                    let body = String(decoding: try Self.encoder.encode(result), as: UTF8.self)
                    let replay = try withoutSecret.map { String(decoding: try Self.encoder.encode($0(result)), as: UTF8.self) }
                    return IdempotentMutation.Rendering(body: body, replayBody: replay)
                }
            ) { connection, operation in try work(connection, principal, operation) }
        }
        if outcome.replayed { ReplayNotice.current?.record() }
        return try JSONDecoder().decode(Result.self, from: Data(outcome.body.utf8))
    }

    /// Runs `body` and tells whether a mutation in it was answered from an earlier call with
    /// the same idempotency key (a replay: nothing applied now) rather than applied.
    ///
    /// ```swift
    /// let (sale, replayed) = try await Session.noticingReplays {
    ///     try await session.sell(packageID, to: clientID, idempotencyKey: invoiceNumber)
    /// }
    /// ```
    public static func noticingReplays<T>(_ body: () async throws -> T) async throws -> (result: T, replayed: Bool) {
        let notice = ReplayNotice()
        let result = try await ReplayNotice.$current.withValue(notice) { try await body() }
        return (result, notice.replayed)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}

/// Set by a mutation that was a replay, for ``Session/noticingReplays(_:)``.
final class ReplayNotice: @unchecked Sendable {
    @TaskLocal static var current: ReplayNotice?
    private let lock = NSLock()
    private var flag = false

    var replayed: Bool { lock.withLock { flag } }
    func record() { lock.withLock { flag = true } }
}

// MARK: - Accounts, features, users and keys

extension Session {
    /// An account at or below the session's own.
    public func account(_ id: UUID) async throws -> Account {
        try await read { Account(try Operations.account($0, $1, id, for: .read)) }
    }

    /// Creates a reseller under the platform, or a client under a reseller.
    public func createAccount(
        under parentID: UUID, kind: AccountKind, name: String, idempotencyKey: String? = nil
    ) async throws -> Account {
        struct Input: Encodable { let parentID: UUID, kind: AccountKind, name: String }
        return try await mutate("createAccount", Input(parentID: parentID, kind: kind, name: name), key: idempotencyKey) { connection, principal, operation in
            Account(try Operations.createAccount(connection, principal, operation, parentID: parentID, kind: kind.sameCase(), name: name))
        }
    }

    /// The accounts directly below `parentID`, by name; `search` matches a part of the name.
    public func children(of parentID: UUID, search: String? = nil, limit: Int = 100) async throws -> [Account] {
        let limit = min(max(limit, 1), Limits.maxPageSize)
        return try await read { connection, principal in
            try Operations.children(connection, principal, parentID: parentID, search: search, after: nil, limit: limit)
                .map(Account.init)
        }
    }

    /// Switches features on (true) or off (false) for an account below the session's own.
    public func setFeatures(
        _ changes: [Feature: Bool], on accountID: UUID, idempotencyKey: String? = nil
    ) async throws -> Account {
        let core = Dictionary(uniqueKeysWithValues: changes.map { ($0.key.sameCase(CreditDeskCore.Feature.self), $0.value) })
        let input = changes.map { "\($0.key.rawValue)=\($0.value)" }.sorted()
        return try await mutate("setFeatures \(accountID)", input, key: idempotencyKey) { connection, principal, operation in
            Account(try Operations.setFeatures(connection, principal, operation, id: accountID, changes: core))
        }
    }

    /// Adds a user to an account.
    public func createUser(
        on accountID: UUID, name: String, email: String? = nil, role: Role, idempotencyKey: String? = nil
    ) async throws -> User {
        struct Input: Encodable { let accountID: UUID, name: String, email: String?, role: Role }
        let input = Input(accountID: accountID, name: name, email: email, role: role)
        return try await mutate("createUser", input, key: idempotencyKey) { connection, principal, operation in
            User(try Operations.createUser(connection, principal, operation, accountID: accountID, name: name, email: email, role: role.sameCase()))
        }
    }

    /// Creates an API key for a user. The secret is in the answer once: a replay of the same
    /// idempotency key answers the key without it.
    public func createKey(
        for userID: UUID, label: String, idempotencyKey: String? = nil
    ) async throws -> (key: APIKey, secret: String?) {
        struct Created: Codable, Sendable { let key: APIKey, secret: String? }
        let created = try await mutate(
            "createKey \(userID)", label, key: idempotencyKey, withoutSecret: { Created(key: $0.key, secret: nil) }
        ) { connection, principal, operation in
            let (key, secret) = try Operations.createKey(connection, principal, operation, userID: userID, label: label)
            return Created(key: APIKey(key), secret: secret)
        }
        return (created.key, created.secret)
    }

    /// Sets a user's password for the web console, where the user signs in with its email: the
    /// user itself may, or an admin who manages users on its account. At least 10 characters;
    /// ends the user's console sessions.
    public func setPassword(for userID: UUID, to password: String) async throws {
        try await Desk.mapping {
            try await ConsoleOperations.setPassword(
                pool: desk.pool, principal, origin: .library, requestID: "library", userID: userID, password: password)
        }
    }

    /// Revokes an API key: it authenticates no more.
    public func revokeKey(_ keyID: UUID, idempotencyKey: String? = nil) async throws -> APIKey {
        try await mutate("revokeKey \(keyID)", "", key: idempotencyKey) { connection, principal, operation in
            APIKey(try Operations.revokeKey(connection, principal, operation, keyID: keyID))
        }
    }
}
