import CreditDeskDB
import Foundation
import Logging

/// The throwaway PostgreSQL of a test run: one cluster per test process, started on first use
/// in a temporary directory and stopped (and deleted) when the process exits. Each test gets a
/// database of its own, cloned from a template that is migrated once, so tests run in parallel
/// without seeing each other's rows.
package actor TestCluster {
    package static let shared = TestCluster()

    package struct Ready: Sendable {
        package let server: EmbeddedPostgres
        let admin: DatabasePool
        package let migrator: Migrator
    }

    private var setup: Task<Ready, any Error>?
    private var counter = 0

    static let logger: Logger = {
        var logger = Logger(label: "creditdesk.tests")
        logger.logLevel = .warning
        return logger
    }()

    package func ready() async throws -> Ready {
        if setup == nil {
            setup = Task { try await Self.start() }
        }
        return try await setup!.value
    }

    private static func start() async throws -> Ready {
        let directory = try makeTemporaryDirectory(prefix: "creditdesk-test-cluster")
        let server = try await EmbeddedPostgres.start(
            options: .init(directory: directory, unsafeFastStorage: true), logger: logger)
        registerForExit(server: server, directory: directory)
        let migrator = try Migrator.load(directory: Migrator.locateDirectory())
        let templatePool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: server.url), size: 1), logger: logger)
        try await migrator.migrate(pool: templatePool, logger: logger)
        await templatePool.shutdown()
        // CREATE DATABASE cannot run inside a transaction block and cannot use parameters; one
        // admin connection also serializes the clones, which PostgreSQL wants from one template.
        let admin = DatabasePool(
            // Every test queues here for its database at start: wait as long as that takes.
            settings: PoolSettings(
                connection: ConnectionSettings(url: server.url(database: "postgres")), size: 1,
                acquireTimeoutMilliseconds: 300_000),
            logger: logger)
        return Ready(server: server, admin: admin, migrator: migrator)
    }

    /// A fresh, migrated database; returns its URL.
    package func makeDatabase(migrated: Bool = true) async throws -> String {
        let ready = try await ready()
        counter += 1
        let name = "t\(ProcessInfo.processInfo.processIdentifier)_\(counter)"
        let template = migrated ? ready.server.options.database : "template0"
        _ = try await ready.admin.withConnection { connection in
            try connection.execute("CREATE DATABASE \(name) TEMPLATE \(template)")
        }
        return ready.server.url(database: name)
    }
}

/// Runs `body` with a pool on a fresh migrated database of the test cluster.
package func withTestDatabase<T: Sendable>(
    poolSize: Int = 4, migrated: Bool = true, _ body: (DatabasePool) async throws -> T
) async throws -> T {
    let url = try await TestCluster.shared.makeDatabase(migrated: migrated)
    let pool = DatabasePool(
        settings: PoolSettings(connection: ConnectionSettings(url: url), size: poolSize), logger: TestCluster.logger)
    do {
        let result = try await body(pool)
        await pool.shutdown()
        return result
    } catch {
        await pool.shutdown()
        throw error
    }
}

package func makeTemporaryDirectory(prefix: String) throws -> URL {
    let url = URL(fileURLWithPath: NSTemporaryDirectory())
        .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    // The postgres system user (when tests run as root) must be able to enter it.
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    return url
}

// MARK: cleanup at process exit

nonisolated(unsafe) private var clustersToStop: [(EmbeddedPostgres, URL)] = []
private let clustersLock = NSLock()

/// Stops a test cluster and removes its directory when the test process exits normally.
package func registerForExit(server: EmbeddedPostgres, directory: URL) {
    clustersLock.lock()
    defer { clustersLock.unlock() }
    if clustersToStop.isEmpty {
        atexit {
            clustersLock.lock()
            let clusters = clustersToStop
            clustersToStop = []
            clustersLock.unlock()
            for (server, directory) in clusters {
                try? server.stopBlocking()
                try? FileManager.default.removeItem(at: directory)
            }
        }
    }
    clustersToStop.append((server, directory))
}

/// Executables of this package, built beside the test bundle.
package enum TestBinaries {
    /// The `creditdesk` executable built beside the test bundle.
    package static func creditdesk() -> URL? {
        var candidates = [URL]()
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("creditdesk"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/.build/debug/creditdesk"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
