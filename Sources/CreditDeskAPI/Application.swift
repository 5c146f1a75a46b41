import CreditDeskConsole
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import CreditDeskContract

package struct ServerSettings: Sendable {
    package var host: String
    package var port: Int

    package init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// What the routes need from the outside world.
package struct AppDependencies: Sendable {
    package var pool: DatabasePool
    package var migrator: Migrator
    package var messaging: MessagingSettings
    /// The bearer token `/metrics` answers to; nil: no metrics route.
    package var metricsToken: String?
    /// Authenticated keys in memory, while `buildApplication`'s listener keeps it honest.
    package var keys = KeyCache()
    /// Proxies whose `X-Forwarded-For` names the client (`CREDITDESK_TRUSTED_PROXIES`); empty:
    /// the header is ignored and the peer is the client.
    package var trustedProxies: [AddressRange] = []

    package init(
        pool: DatabasePool, migrator: Migrator,
        messaging: MessagingSettings = MessagingSettings(secretBox: nil, publicBaseURL: "http://127.0.0.1:8080"),
        metricsToken: String? = nil
    ) {
        self.pool = pool
        self.migrator = migrator
        self.messaging = messaging
        self.metricsToken = metricsToken
    }
}

/// Every route of the API, in one place: the contract's operations through the generated
/// server, and the plain routes beside them (probes, the document, the export, callbacks).
package func buildRouter(dependencies: AppDependencies) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    // Before the metrics middleware creates its first metric.
    _ = Observability.registry
    // Outermost, so it sees the status of every answer, errors mapped by the next one included.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: RequestLoggingMiddleware())
    router.add(
        middleware: AuthMiddleware(
            pool: dependencies.pool, keys: dependencies.keys, trustedProxies: dependencies.trustedProxies))
    let access = Access(pool: dependencies.pool)
    let handlers = APIHandlers(access: access, messaging: dependencies.messaging)
    router.add(middleware: BulkReservationRoute(handlers: handlers))
    try handlers.registerHandlers(on: router, configuration: .creditDesk)
    HealthController(pool: dependencies.pool, migrator: dependencies.migrator).addRoutes(to: router)
    UsageController(access: access).addRoutes(to: router)
    AuditExportRoute(access: access).addRoutes(to: router)
    MessagingController(access: access, settings: dependencies.messaging).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    MetricsController(pool: dependencies.pool, token: dependencies.metricsToken).addRoutes(to: router)
    try ConsoleController<AppRequestContext>(pool: dependencies.pool, messaging: dependencies.messaging)
        .addRoutes(to: router)
    return router
}

package func buildApplication(
    settings: ServerSettings, dependencies: AppDependencies, logger: Logger
) throws -> some ApplicationProtocol {
    Application(
        router: try buildRouter(dependencies: dependencies),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "CreditDesk"),
        services: [
            KeyCacheListener(cache: dependencies.keys, connection: dependencies.pool.settings.connection, logger: logger),
            MessageDispatcher(pool: dependencies.pool, settings: dependencies.messaging, logger: logger),
            WebhookNotifier(pool: dependencies.pool, settings: dependencies.messaging, logger: logger),
            Housekeeping(pool: dependencies.pool, logger: logger),
            MemoryTrimmer(),
        ],
        logger: logger)
}
