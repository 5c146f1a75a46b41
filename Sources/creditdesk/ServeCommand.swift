import ArgumentParser
import CreditDesk
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
        let configuration = try database.configuration(host: host, port: port)
        let logger = configuration.makeLogger()
        let settings = ServerSettings(host: configuration.host, port: configuration.port)
        let migrator = try configuration.migrator()
        let handle = try await DatabaseHandle.open(configuration, logger: logger)
        // The daemon opens its database as any server embedding the library does.
        let desk = try await Desk.open(
            url: handle.url, embedded: handle.embedded, connections: configuration.poolSize, migrate: false, logger: logger)
        let pool = desk.pool
        do {
            if !noMigrate { try await migrator.migrate(pool: pool, logger: logger) }
        } catch {
            await desk.close()
            throw error
        }

        let messaging = MessagingSettings(
            secretBox: try configuration.secretBox(logger: logger),
            previousSecretBox: try configuration.previousSecretBox(),
            mailer: configuration.smtpURL.map { SMTPMailer(url: $0, from: configuration.smtpFrom) },
            replyRule: configuration.replyRule, publicBaseURL: configuration.publicBaseURL,
            webhooks: WebhookOptions(allowPrivateAddresses: configuration.webhookAllowsPrivateAddresses))
        var dependencies = AppDependencies(
            pool: pool, migrator: migrator, messaging: messaging, metricsToken: configuration.metricsToken)
        dependencies.trustedProxies = configuration.trustedProxies
        let app = try buildApplication(settings: settings, dependencies: dependencies, logger: logger)
        // Services stop in reverse order: the HTTP server first, then the desk (its pool, then
        // the embedded PostgreSQL, if any).
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: ResourceService(name: "desk") { await desk.close() }),
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
