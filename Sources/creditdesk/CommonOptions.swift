import ArgumentParser
import CreditDeskAPI
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Logging

/// Options every database-using command shares. Each falls back to an environment variable,
/// then to a default, so the daemon can be configured entirely from its unit file.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL (env DATABASE_URL). Without one, an embedded cluster is started under --data-dir.",
            valueName: "url"))
    var databaseURL: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Directory of the embedded PostgreSQL cluster (env CREDITDESK_DATA_DIR, default ./.creditdesk).",
            valueName: "dir"))
    var dataDirectory: String?

    @Option(
        name: .customLong("pool-size"),
        help: ArgumentHelp("Database connections, each with its own thread (env CREDITDESK_POOL_SIZE, default 8).", valueName: "n"))
    var poolSize: Int?

    @Option(
        name: .customLong("migrations"),
        help: ArgumentHelp("Directory of the sql/ migrations (env CREDITDESK_MIGRATIONS, default: found beside the binary or ./sql).", valueName: "dir"))
    var migrationsDirectory: String?

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env LOG_LEVEL, default info).", valueName: "level"))
    var logLevel: String?

    static let environment = ProcessInfo.processInfo.environment

    var resolvedDatabaseURL: String? { databaseURL ?? Self.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }
    var resolvedDataDirectory: URL {
        URL(fileURLWithPath: dataDirectory ?? Self.environment["CREDITDESK_DATA_DIR"] ?? ".creditdesk")
    }

    func resolvedPoolSize() throws -> Int {
        let size = try poolSize ?? Self.environment["CREDITDESK_POOL_SIZE"].map {
            guard let value = Int($0) else { throw ValidationError("CREDITDESK_POOL_SIZE must be a number") }
            return value
        } ?? 8
        guard (1...256).contains(size) else { throw ValidationError("--pool-size must be between 1 and 256") }
        return size
    }

    func resolvedLogLevel() throws -> Logger.Level {
        let text = logLevel ?? Self.environment["LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level \(text)")
        }
        return level
    }

    /// The key that seals gateway credentials: CREDITDESK_SECRET_KEY (base64url of 32 bytes), or,
    /// for an embedded cluster, `secret.key` in its directory (created on first use, mode 0600).
    /// Without either, the daemon runs but cannot store gateway credentials.
    func secretBox(logger: Logger) throws -> SecretBox? {
        if let encoded = Self.environment["CREDITDESK_SECRET_KEY"], !encoded.isEmpty {
            return try SecretBox(encodedKey: encoded)
        }
        guard resolvedDatabaseURL == nil else {
            logger.warning("CREDITDESK_SECRET_KEY is not set: gateway connections cannot be created")
            return nil
        }
        let file = resolvedDataDirectory.appendingPathComponent("secret.key")
        if let stored = try? String(contentsOf: file, encoding: .utf8) { return try SecretBox(encodedKey: stored) }
        try FileManager.default.createDirectory(at: resolvedDataDirectory, withIntermediateDirectories: true)
        let key = SecretBox.generateKey()
        guard FileManager.default.createFile(atPath: file.path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write \(file.path)") }
        return try SecretBox(encodedKey: key)
    }

    /// The key being retired in a rotation (CREDITDESK_OLD_SECRET_KEY), if set.
    static func previousSecretBox() throws -> SecretBox? {
        guard let encoded = environment["CREDITDESK_OLD_SECRET_KEY"], !encoded.isEmpty else { return nil }
        return try SecretBox(encodedKey: encoded)
    }

    /// Installs JSON logging once per process and returns the root logger.
    func makeLogger() throws -> Logger {
        let level = try resolvedLogLevel()
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        return Logger(label: "creditdesk")
    }
}

/// A database to talk to: the configured one, or an embedded cluster started for this process.
struct DatabaseHandle {
    let url: String
    let embedded: EmbeddedPostgres?

    static func open(_ options: DatabaseOptions, logger: Logger) async throws -> DatabaseHandle {
        if let url = options.resolvedDatabaseURL {
            logger.info("using configured database", metadata: ["db.url": "\(ConnectionSettings.redact(url))"])
            return DatabaseHandle(url: url, embedded: nil)
        }
        let embeddedOptions = EmbeddedPostgres.Options(directory: options.resolvedDataDirectory.standardizedFileURL)
        if let url = EmbeddedPostgres.runningURL(options: embeddedOptions) {
            // A `creditdesk serve` already runs this cluster: use it, and leave it running.
            return DatabaseHandle(url: url, embedded: nil)
        }
        let embedded = try await EmbeddedPostgres.start(options: embeddedOptions, logger: logger)
        return DatabaseHandle(url: embedded.url, embedded: embedded)
    }
}
