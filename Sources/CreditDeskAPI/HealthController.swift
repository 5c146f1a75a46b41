import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Hummingbird

/// `/healthz`: the process answers. `/readyz`: the database answers and has every migration.
struct HealthController {
    let pool: DatabasePool
    let migrator: Migrator

    struct Status: Encodable {
        let status: String
        var database: String?
        var schemaVersion: Int?
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/healthz") { _, _ in
            try JSONResponse.make(status: .ok, body: Status(status: "ok"))
        }
        router.get("/readyz") { _, context in
            do {
                let upToDate = try await migrator.isUpToDate(pool: pool)
                return try JSONResponse.make(
                    status: upToDate ? .ok : .serviceUnavailable,
                    body: Status(
                        status: upToDate ? "ready" : "not_ready", database: upToDate ? "migrated" : "migrations_pending",
                        schemaVersion: migrator.latestVersion))
            } catch {
                context.logger.warning("readiness check failed", metadata: ["error": "\(error)"])
                return try JSONResponse.make(
                    status: .serviceUnavailable, body: Status(status: "not_ready", database: "unreachable"))
            }
        }
    }
}
