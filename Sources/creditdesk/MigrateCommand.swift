import ArgumentParser
import CreditDesk
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations (safe to run from several processes at once).")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let configuration = try database.configuration()
        let logger = configuration.makeLogger()
        let migrator = try configuration.migrator()
        let handle = try await DatabaseHandle.open(configuration, logger: logger)
        let desk = try await Desk.open(url: handle.url, embedded: handle.embedded, connections: 1, migrate: false, logger: logger)
        let outcome = await Result(catching: { try await migrator.migrate(pool: desk.pool, logger: logger) })
        await desk.close()
        let applied = try outcome.get()
        print("applied \(applied.count) migration(s); schema at version \(migrator.latestVersion)")
    }
}

extension Result where Failure == any Error {
    /// Captures the outcome of async work, so cleanup can run before the error is rethrown.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
