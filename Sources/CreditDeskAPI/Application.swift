import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Logging

public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// What the routes need from the outside world.
public struct AppDependencies: Sendable {
    public var pool: DatabasePool
    public var migrator: Migrator
    public var messaging: MessagingSettings

    public init(
        pool: DatabasePool, migrator: Migrator,
        messaging: MessagingSettings = MessagingSettings(secretBox: nil, publicBaseURL: "http://127.0.0.1:8080")
    ) {
        self.pool = pool
        self.migrator = migrator
        self.messaging = messaging
    }
}

/// Every route of the API, in one place.
public func buildRouter(dependencies: AppDependencies) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestLoggingMiddleware())
    router.add(middleware: AuthMiddleware(pool: dependencies.pool))
    HealthController(pool: dependencies.pool, migrator: dependencies.migrator).addRoutes(to: router)
    let access = Access(pool: dependencies.pool)
    AccountsController(access: access).addRoutes(to: router)
    CreditsController(access: access).addRoutes(to: router)
    UsageController(access: access).addRoutes(to: router)
    MessagingController(access: access, settings: dependencies.messaging).addRoutes(to: router)
    ContactsController(access: access).addRoutes(to: router)
    CampaignsController(access: access).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    return router
}

public func buildApplication(
    settings: ServerSettings, dependencies: AppDependencies, logger: Logger
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(dependencies: dependencies),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "CreditDesk"),
        services: [MessageDispatcher(pool: dependencies.pool, settings: dependencies.messaging, logger: logger)],
        logger: logger)
}
