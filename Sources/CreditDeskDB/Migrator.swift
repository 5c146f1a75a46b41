import CreditDeskCore
import Foundation
import Logging

/// One forward-only migration: `sql/NNNN_name.sql`.
package struct Migration: Sendable, Equatable {
    package let version: Int
    package let name: String
    package let sql: String
    /// SHA-256 of the file's bytes, recorded when applied and compared on every later run.
    package let checksum: String

    package init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = Digest.sha256Hex(sql)
    }
}

/// Applies the migrations in `sql/` in order, each in its own transaction, and records them.
///
/// Two processes migrating at once is safe: the whole run holds a session-level advisory
/// lock, so the second waits and then finds nothing left to do. A migration file changed
/// after it was applied stops the run before anything else is applied.
package struct Migrator: Sendable {
    package let migrations: [Migration]

    /// Arbitrary, fixed: identifies "the CreditDesk migrator" among advisory locks.
    static let advisoryLockKey: Int64 = 0x4372_6564_4d69_67  // "CredMig"

    static let createTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    static let selectApplied = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    static let insertApplied = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
    static let lock = "SELECT pg_advisory_lock($1)"
    static let unlock = "SELECT pg_advisory_unlock($1)"
    static let latestApplied = "SELECT coalesce(max(version), 0) AS version FROM schema_migrations"

    package init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads `NNNN_name.sql` files. Other files are ignored; duplicate numbers are an error.
    package static func load(directory: URL) throws -> Migrator {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw DatabaseError(.migration, message: "cannot read migrations directory \(directory.path)")
        }
        let files = try names.filter { $0.hasSuffix(".sql") }.map { name in
            (name: name, sql: try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
        return try load(files: files, from: directory.path)
    }

    /// The migrations compiled into this binary from the package's `sql/` directory.
    package static func bundled() throws -> Migrator {
        try load(files: BundledMigrations.files, from: "the bundled migrations")
    }

    static func load(files: [(name: String, sql: String)], from place: String) throws -> Migrator {
        var migrations = [Migration]()
        for (name, sql) in files {
            guard let match = name.wholeMatch(of: /(\d+)_([A-Za-z0-9_]+)\.sql/), let version = Int(match.1) else {
                throw DatabaseError(.migration, message: "migration file \(name) is not named NNNN_name.sql")
            }
            migrations.append(Migration(version: version, name: String(match.2), sql: sql))
        }
        let versions = migrations.map(\.version)
        if Set(versions).count != versions.count {
            throw DatabaseError(.migration, message: "two migration files share a version number in \(place)")
        }
        if migrations.isEmpty {
            throw DatabaseError(.migration, message: "no migrations found in \(place)")
        }
        return Migrator(migrations: migrations)
    }

    /// Finds the `sql/` directory: an explicit path (the configuration's), then `./sql`,
    /// then beside an installed binary (`../share/creditdesk/sql`), then the source checkout the
    /// binary was built in (`.build/<config>/creditdesk` → `sql`).
    package static func locateDirectory(explicit: String? = nil) throws -> URL {
        var candidates = [String]()
        if let explicit { candidates.append(explicit) }
        candidates.append(FileManager.default.currentDirectoryPath + "/sql")
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let binDirectory = executable.deletingLastPathComponent()
        candidates.append(binDirectory.appendingPathComponent("../share/creditdesk/sql").path)
        var directory = binDirectory
        for _ in 0..<5 {
            directory = directory.deletingLastPathComponent()
            candidates.append(directory.appendingPathComponent("sql").path)
        }
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue,
                (try? FileManager.default.contentsOfDirectory(atPath: candidate).contains { $0.hasSuffix(".sql") })
                    == true
            {
                return URL(fileURLWithPath: candidate).standardizedFileURL
            }
            if explicit != nil, candidate == explicit {
                throw DatabaseError(.migration, message: "migrations directory \(candidate) has no .sql files")
            }
        }
        throw DatabaseError(
            .migration,
            message: "cannot find the sql/ migrations directory; pass --migrations DIR or set CREDITDESK_MIGRATIONS")
    }

    package var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies what is pending; returns the migrations applied by this call.
    @discardableResult
    package func migrate(pool: DatabasePool, logger: Logger) async throws -> [Migration] {
        let migrations = self.migrations
        let applied = try await pool.withConnection { connection in
            try connection.execute(Self.lock, [Self.advisoryLockKey])
            defer { _ = try? connection.execute(Self.unlock, [Self.advisoryLockKey]) }
            try connection.execute(Self.createTable)
            let recorded = try connection.execute(Self.selectApplied).rows.map { row in
                (
                    version: try row.decode(Int.self, "version"), name: try row.decode(String.self, "name"),
                    checksum: try row.decode(String.self, "checksum")
                )
            }
            try Self.verify(recorded: recorded, against: migrations)
            let recordedVersions = Set(recorded.map(\.version))
            var appliedNow = [Migration]()
            for migration in migrations where !recordedVersions.contains(migration.version) {
                try connection.execute("BEGIN")
                do {
                    try connection.executeScript(migration.sql)
                    try connection.execute(Self.insertApplied, [migration.version, migration.name, migration.checksum])
                    try connection.execute("COMMIT")
                } catch {
                    _ = try? connection.execute("ROLLBACK")
                    throw DatabaseError(
                        .migration,
                        message: "migration \(migration.version)_\(migration.name) failed: \(error)")
                }
                appliedNow.append(migration)
            }
            return appliedNow
        }
        for migration in applied {
            logger.info(
                "applied migration",
                metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
        }
        return applied
    }

    static func verify(recorded: [(version: Int, name: String, checksum: String)], against migrations: [Migration]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for entry in recorded {
            guard let migration = known[entry.version] else {
                throw DatabaseError(
                    .migration,
                    message:
                        "the database has migration \(entry.version)_\(entry.name), which this build does not have; refusing to run an older build against a newer schema"
                )
            }
            if migration.checksum != entry.checksum {
                throw DatabaseError(
                    .migration,
                    message:
                        "migration \(entry.version)_\(entry.name) was changed after it was applied (checksum \(entry.checksum.prefix(12)) recorded, \(migration.checksum.prefix(12)) on disk); migrations are forward-only: add a new file instead"
                )
            }
        }
    }

    /// True when the database has every migration of this build (for readiness checks).
    package func isUpToDate(pool: DatabasePool) async throws -> Bool {
        let latest = try await pool.withConnection { connection in
            try connection.execute(Self.latestApplied).single().decode(Int.self, "version")
        }
        return latest == latestVersion
    }
}
