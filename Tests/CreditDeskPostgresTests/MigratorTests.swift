import CreditDeskTestSupport
import Foundation
import Logging
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

@Suite("Migrations")
struct MigratorTests {
    let logger = Logger(label: "test")

    func writeMigrations(_ files: [String: String]) throws -> URL {
        let directory = try makeTemporaryDirectory(prefix: "creditdesk-test-sql")
        for (name, sql) in files {
            try sql.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test("the project's own migrations apply in order and a second run applies nothing")
    func projectMigrations() async throws {
        try await withTestDatabase(migrated: false) { pool in
            let migrator = try Migrator.load(directory: Migrator.locateDirectory())
            let applied = try await migrator.migrate(pool: pool, logger: logger)
            #expect(applied.map(\.version) == migrator.migrations.map(\.version))
            #expect(try await migrator.isUpToDate(pool: pool))
            #expect(try await migrator.migrate(pool: pool, logger: logger).isEmpty)
        }
    }

    @Test("a migration file changed after it was applied stops the run")
    func checksumRefusal() async throws {
        try await withTestDatabase(migrated: false) { pool in
            let directory = try writeMigrations([
                "0001_first.sql": "CREATE TABLE first (v int);",
                "0002_second.sql": "CREATE TABLE second (v int);",
            ])
            try await Migrator.load(directory: directory).migrate(pool: pool, logger: logger)

            try "CREATE TABLE first (v bigint);".write(
                to: directory.appendingPathComponent("0001_first.sql"), atomically: true, encoding: .utf8)
            try "CREATE TABLE third (v int);".write(
                to: directory.appendingPathComponent("0003_third.sql"), atomically: true, encoding: .utf8)
            let error = await #expect(throws: DatabaseError.self) {
                try await Migrator.load(directory: directory).migrate(pool: pool, logger: logger)
            }
            #expect(error?.code == .migration)
            #expect(error?.message.contains("0001") == true || error?.message.contains("1_first") == true)
            // Nothing after the refusal ran: 0003 was not applied.
            let third = try await pool.withConnection {
                try $0.execute("SELECT to_regclass('third') IS NULL AS missing").single().decode(Bool.self, "missing")
            }
            #expect(third)
        }
    }

    @Test("a database newer than the build is refused")
    func newerDatabase() async throws {
        try await withTestDatabase(migrated: false) { pool in
            let newer = try writeMigrations(["0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"])
            try await Migrator.load(directory: newer).migrate(pool: pool, logger: logger)
            let older = try writeMigrations(["0001_a.sql": "SELECT 1;"])
            await #expect(throws: DatabaseError.self) {
                try await Migrator.load(directory: older).migrate(pool: pool, logger: logger)
            }
        }
    }

    @Test("a failing migration is rolled back whole and not recorded")
    func failingMigration() async throws {
        try await withTestDatabase(migrated: false) { pool in
            let directory = try writeMigrations([
                "0001_ok.sql": "CREATE TABLE ok (v int);",
                "0002_bad.sql": "CREATE TABLE half (v int); SELECT * FROM no_such_table;",
            ])
            await #expect(throws: DatabaseError.self) {
                try await Migrator.load(directory: directory).migrate(pool: pool, logger: logger)
            }
            let (versions, halfMissing) = try await pool.withConnection { connection in
                (
                    try connection.execute("SELECT version FROM schema_migrations ORDER BY 1").rows.map {
                        try $0.decode(Int.self, "version")
                    },
                    try connection.execute("SELECT to_regclass('half') IS NULL AS m").single().decode(Bool.self, "m")
                )
            }
            #expect(versions == [1])
            #expect(halfMissing)
        }
    }

    @Test("badly named files are rejected when loading")
    func badNames() throws {
        let directory = try writeMigrations(["first.sql": "SELECT 1;"])
        #expect(throws: DatabaseError.self) { try Migrator.load(directory: directory) }
    }

    @Test("two creditdesk migrate processes started together apply each migration once")
    func concurrentProcesses() async throws {
        let url = try await TestCluster.shared.makeDatabase(migrated: false)
        // Slow migrations widen the window in which two unlocked migrators would collide.
        var files = [String: String]()
        for version in 1...4 {
            files[String(format: "%04d_step%d.sql", version, version)] =
                "SELECT pg_sleep(0.2); CREATE TABLE step\(version) (v int);"
        }
        let directory = try writeMigrations(files)
        let binary = try #require(TestBinaries.creditdesk(), "build the creditdesk executable first (make test does)")
        let arguments = ["migrate", "--database-url", url, "--migrations", directory.path, "--log-level", "error"]
        // Two real processes, started together, each on a thread of its own (the call blocks).
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<2 {
                group.addTask { try await runBlocking { try Subprocess.run(binary.path, arguments).status } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == [0, 0])

        let pool = DatabasePool(settings: PoolSettings(connection: ConnectionSettings(url: url), size: 1), logger: logger)
        let versions = try await pool.withConnection { connection in
            try connection.execute("SELECT version FROM schema_migrations ORDER BY 1").rows.map { try $0.decode(Int.self, "version") }
        }
        #expect(versions == [1, 2, 3, 4])
        await pool.shutdown()
    }
}
