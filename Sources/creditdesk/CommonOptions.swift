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
        help: ArgumentHelp("A directory of migrations to apply instead of those compiled in (env CREDITDESK_MIGRATIONS).", valueName: "dir"))
    var migrationsDirectory: String?

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env LOG_LEVEL, default info).", valueName: "level"))
    var logLevel: String?

    /// The one configuration: these flags (and the command's own), then the environment.
    func configuration(host: String? = nil, port: Int? = nil, apiKey: String? = nil) throws -> AppConfiguration {
        do {
            return try AppConfiguration(
                flags: .init(
                    databaseURL: databaseURL, dataDirectory: dataDirectory, poolSize: poolSize,
                    migrationsDirectory: migrationsDirectory, logLevel: logLevel, host: host, port: port, apiKey: apiKey),
                environment: ProcessInfo.processInfo.environment)
        } catch let error as AppConfiguration.Invalid {
            throw ValidationError(error.description)
        }
    }
}

extension AppConfiguration {
    /// The key that seals gateway credentials: CREDITDESK_SECRET_KEY, or, for an embedded
    /// cluster, `secret.key` in its directory (created on first use, mode 0600). Without
    /// either, the daemon runs but cannot store gateway credentials.
    func secretBox(logger: Logger) throws -> SecretBox? {
        if let secretKey { return try SecretBox(encodedKey: secretKey) }
        guard databaseURL == nil else {
            logger.warning("CREDITDESK_SECRET_KEY is not set: gateway connections cannot be created")
            return nil
        }
        let file = dataDirectory.appendingPathComponent("secret.key")
        if let stored = try? String(contentsOf: file, encoding: .utf8) { return try SecretBox(encodedKey: stored) }
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let key = SecretBox.generateKey()
        guard FileManager.default.createFile(atPath: file.path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write \(file.path)") }
        return try SecretBox(encodedKey: key)
    }

    /// The key being retired in a rotation (CREDITDESK_OLD_SECRET_KEY), if set.
    func previousSecretBox() throws -> SecretBox? {
        try previousSecretKey.map { try SecretBox(encodedKey: $0) }
    }

    /// Installs JSON logging once per process and returns the root logger.
    func makeLogger() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        return Logger(label: "creditdesk")
    }

    func migrator() throws -> Migrator {
        guard let migrationsDirectory else { return try Migrator.bundled() }
        return try Migrator.load(directory: try Migrator.locateDirectory(explicit: migrationsDirectory))
    }
}

/// A database to talk to: the configured one, or an embedded cluster started for this process.
struct DatabaseHandle {
    let url: String
    let embedded: EmbeddedPostgres?

    static func open(_ configuration: AppConfiguration, logger: Logger) async throws -> DatabaseHandle {
        if let url = configuration.databaseURL {
            logger.info("using configured database", metadata: ["db.url": "\(ConnectionSettings.redact(url))"])
            return DatabaseHandle(url: url, embedded: nil)
        }
        var embeddedOptions = EmbeddedPostgres.Options(directory: configuration.dataDirectory.standardizedFileURL)
        embeddedOptions.binDirectory = configuration.postgresBinDirectory.map { URL(fileURLWithPath: $0) }
        if let url = EmbeddedPostgres.runningURL(options: embeddedOptions) {
            // A `creditdesk serve` already runs this cluster: use it, and leave it running.
            return DatabaseHandle(url: url, embedded: nil)
        }
        let embedded = try await EmbeddedPostgres.start(options: embeddedOptions, logger: logger)
        return DatabaseHandle(url: embedded.url, embedded: embedded)
    }
}
