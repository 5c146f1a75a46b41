import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Logging

/// CreditDesk on a PostgreSQL database: open it, then act as a user through a ``Session``.
///
/// ```swift
/// let desk = try await Desk.open(databaseURL: "postgresql://…")
/// let session = try await desk.session(apiKey: key)
/// ```
///
/// A desk keeps a small pool of connections; call ``close()`` when done.
public final class Desk: Sendable {
    package let pool: DatabasePool
    package let logger: Logger
    let embedded: EmbeddedPostgres?

    package init(pool: DatabasePool, embedded: EmbeddedPostgres?, logger: Logger) {
        self.pool = pool
        self.embedded = embedded
        self.logger = logger
    }

    /// Opens the database at `databaseURL` (a `postgresql://` URL) and brings its schema up to
    /// date, unless `migrate` is false.
    ///
    /// - Parameters:
    ///   - databaseURL: Where the database is, with user and password.
    ///   - connections: How many connections the desk may hold open at once.
    ///   - migrate: Whether to apply the schema migrations this version needs.
    public static func open(databaseURL: String, connections: Int = 4, migrate: Bool = true) async throws -> Desk {
        try await open(url: databaseURL, embedded: nil, connections: connections, migrate: migrate)
    }

    /// Starts (creating on first use) a PostgreSQL cluster of its own in `directory`, and
    /// opens it with its schema up to date. ``close()`` stops the cluster. Needs PostgreSQL's
    /// server programs installed; run as root, the cluster runs as the `postgres` user.
    public static func openEmbedded(directory: URL, connections: Int = 4) async throws -> Desk {
        let logger = Self.quietLogger()
        let cluster = try await mapping {
            try await EmbeddedPostgres.start(options: .init(directory: directory), logger: logger)
        }
        do {
            return try await open(url: cluster.url, embedded: cluster, connections: connections, migrate: true)
        } catch {
            try? await cluster.stop()
            throw error
        }
    }

    package static func open(
        url: String, embedded: EmbeddedPostgres?, connections: Int, migrate: Bool, logger: Logger = quietLogger()
    ) async throws -> Desk {
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: url), size: max(1, connections)), logger: logger)
        if migrate {
            do {
                _ = try await mapping { try await Migrator.bundled().migrate(pool: pool, logger: logger) }
            } catch {
                await pool.shutdown()
                throw error
            }
        }
        return Desk(pool: pool, embedded: embedded, logger: logger)
    }

    /// Closes the connections, and stops the cluster ``openEmbedded(directory:connections:)`` started.
    public func close() async {
        await pool.shutdown()
        try? await embedded?.stop()
    }

    /// Creates the platform account and its first operator, once per database. Answers the
    /// operator's session and API key; the key is shown only here.
    public func bootstrap(operatorName: String, email: String? = nil) async throws -> (session: Session, apiKey: String) {
        let (platform, user, secret) = try await Desk.mapping {
            try await pool.withTransaction { try Operations.bootstrap($0, operatorName: operatorName, email: email) }
        }
        let principal = Principal(
            userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: user.role, accountKind: .platform)
        return (Session(desk: self, principal: principal), secret)
    }

    /// Acts as the owner of an API key, with exactly the rights that key has in the JSON API.
    public func session(apiKey: String) async throws -> Session {
        let auth = try await Desk.mapping { try await pool.withConnection { try UserStore.authenticate($0, secret: apiKey) } }
        guard let auth else {
            throw CreditDeskError(code: "unauthorized", message: "the API key is unknown or revoked", details: [:])
        }
        return Session(desk: self, principal: auth.principal)
    }

    /// Acts as the user `userID`, for a server that has authenticated its own users.
    public func session(userID: UUID) async throws -> Session {
        let principal = try await Desk.mapping {
            try await pool.withConnection { connection -> Principal in
                guard let user = try UserStore.findUser(connection, id: userID),
                    let account = try AccountStore.find(connection, id: user.accountID)
                else { throw DomainError.notFound("user") }
                return Principal(
                    userID: user.id, accountID: account.id, tenantID: account.tenantID, role: user.role,
                    accountKind: account.kind)
            }
        }
        return Session(desk: self, principal: principal)
    }

    /// Checks the ledger's invariants in one snapshot: balances match entries, no limit is
    /// breached, every unit sums to zero, each idempotency key applied once. Empty when sound.
    public func verify() async throws -> [String] {
        try await Desk.mapping {
            try await pool.withTransaction(isolation: .repeatableRead) { try VerifyStore.verify($0) }.map { "\($0)" }
        }
    }

    package static func quietLogger() -> Logger {
        var logger = Logger(label: "creditdesk.library")
        logger.logLevel = .warning
        return logger
    }

    /// Runs `work`, answering the services' failures as ``CreditDeskError``.
    static func mapping<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as CreditDeskError {
            throw error
        } catch {
            throw CreditDeskError(error)
        }
    }
}
