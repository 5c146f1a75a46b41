import ArgumentParser
import CreditDeskAPI
import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API daemon. Stops gracefully on SIGTERM or SIGINT.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Address to listen on (env CREDITDESK_HOST, default 127.0.0.1).", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on (env PORT, default 8080).", valueName: "port"))
    var port: Int?

    @Flag(name: .customLong("no-migrate"), help: "Do not apply pending migrations at start (readyz then reports them).")
    var noMigrate = false

    func run() async throws {
        #if os(Linux)
        // glibc gives each thread that allocates its own arena (up to 8 per core); with a
        // thread per database connection, freed memory then sits in many arenas and RSS grows
        // with the pool size. Two arenas keep RSS flat at no measurable cost in throughput (bench/credit.sh).
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil { _ = glibcMallopt(-8 /* M_ARENA_MAX */, 2) }
        #endif
        let environment = ProcessInfo.processInfo.environment
        let logger = try database.makeLogger()
        let resolvedPort = try port ?? environment["PORT"].map {
            guard let value = Int($0) else { throw ValidationError("PORT must be a number") }
            return value
        } ?? 8080
        guard (0...65535).contains(resolvedPort) else { throw ValidationError("--port must be between 0 and 65535") }
        let settings = ServerSettings(host: host ?? environment["CREDITDESK_HOST"] ?? "127.0.0.1", port: resolvedPort)

        let migrator = try Migrator.load(directory: try Migrator.locateDirectory(explicit: database.migrationsDirectory))
        let handle = try await DatabaseHandle.open(database, logger: logger)
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: handle.url), size: try database.resolvedPoolSize()),
            logger: logger)
        do {
            if !noMigrate { try await migrator.migrate(pool: pool, logger: logger) }
        } catch {
            await pool.shutdown()
            try? await handle.embedded?.stop()
            throw error
        }

        let messaging = MessagingSettings(
            secretBox: try database.secretBox(logger: logger),
            previousSecretBox: try DatabaseOptions.previousSecretBox(),
            mailer: environment["CREDITDESK_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 }.map {
                SMTPMailer(url: $0, from: environment["CREDITDESK_SMTP_FROM"] ?? "creditdesk@localhost")
            },
            replyRule: try ReplyRoutingRule.parse(environment["CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES"] ?? "64"),
            publicBaseURL: environment["CREDITDESK_PUBLIC_URL"] ?? "http://\(settings.host):\(settings.port)")
        let app = try buildApplication(
            settings: settings, dependencies: AppDependencies(pool: pool, migrator: migrator, messaging: messaging),
            logger: logger)
        // Services stop in reverse order: the HTTP server first, then the pool, then PostgreSQL.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: ResourceService(name: "postgres") { try? await handle.embedded?.stop() }),
                    .init(service: ResourceService(name: "pool") { await pool.shutdown() }),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

#if os(Linux)
// <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Holds a resource for the life of the service group and releases it on graceful shutdown.
struct ResourceService: Service {
    let name: String
    let release: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await release()
    }
}
