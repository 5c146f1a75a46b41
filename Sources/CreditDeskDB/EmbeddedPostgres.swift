import CreditDeskCore
import Foundation
import Logging

/// A private PostgreSQL cluster run from the system's installation (Debian's `postgresql`).
///
/// Layout under `directory`: `pgdata/` (the cluster), `password` (0600, the superuser's
/// password, generated at initdb), `postgres.log`, `socket/`. The server listens on
/// 127.0.0.1 only, on a free port chosen at each start, with scram-sha-256 authentication.
/// initdb refuses to run as root, so when the process is root every server-side command runs
/// as the `postgres` system user, which then owns the data.
package final class EmbeddedPostgres: Sendable {
    package struct Options: Sendable {
        package var directory: URL
        /// Skips fsync and full-page writes: for throwaway test clusters only.
        package var unsafeFastStorage: Bool = false
        package var superuser: String = "creditdesk"
        package var database: String = "creditdesk"
        /// PostgreSQL's programs; nil: the newest `/usr/lib/postgresql/N/bin`, else `pg_config --bindir`.
        package var binDirectory: URL?

        package init(directory: URL, unsafeFastStorage: Bool = false) {
            self.directory = directory
            self.unsafeFastStorage = unsafeFastStorage
        }
    }

    package let options: Options
    package let port: Int
    private let password: String
    private let binDirectory: URL
    private let runAsUser: String?
    private let logger: Logger

    /// The URL of the `database` database (created at first start). Holds the password.
    package var url: String { url(database: options.database) }

    package func url(database: String) -> String {
        Self.url(user: options.superuser, password: password, port: port, database: database)
    }

    static func url(user: String, password: String, port: Int, database: String) -> String {
        "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    var dataDirectory: URL { options.directory.appendingPathComponent("pgdata") }

    /// Creates the cluster on first use, then starts it and waits until it accepts connections.
    package static func start(options: Options, logger: Logger) async throws -> EmbeddedPostgres {
        try await runBlocking { try startBlocking(options: options, logger: logger) }
    }

    static func startBlocking(options: Options, logger: Logger) throws -> EmbeddedPostgres {
        let binDirectory = try options.binDirectory ?? locateBinaries()
        let runAsUser = getuid() == 0 ? "postgres" : nil
        let fileManager = FileManager.default
        let directory = options.directory
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        let socketDirectory = directory.appendingPathComponent("socket")
        try fileManager.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        if let runAsUser {
            try run("/bin/chown", [runAsUser, directory.path, socketDirectory.path])
            // The server user must be able to reach the directory through every parent.
            do {
                try run("/sbin/runuser", ["-u", runAsUser, "--", "/usr/bin/test", "-w", directory.path])
            } catch {
                throw DatabaseError(
                    .embeddedServer,
                    message:
                        "the postgres system user cannot write \(directory.path) (a parent directory may be private); choose another --data-dir"
                )
            }
        }

        let dataDirectory = directory.appendingPathComponent("pgdata")
        let password = try initializeIfNeeded(
            options: options, dataDirectory: dataDirectory, binDirectory: binDirectory, runAsUser: runAsUser, logger: logger)

        let server = EmbeddedPostgres(
            options: options, port: 0, password: password, binDirectory: binDirectory, runAsUser: runAsUser,
            logger: logger)
        // A server left running by a killed process would hold the data directory: stop it.
        if fileManager.fileExists(atPath: dataDirectory.appendingPathComponent("postmaster.pid").path) {
            try? server.pgctl(["stop", "-m", "fast", "-w", "-t", "30"])
        }

        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<32_000)
            let candidate = EmbeddedPostgres(
                options: options, port: port, password: password, binDirectory: binDirectory, runAsUser: runAsUser,
                logger: logger)
            do {
                try candidate.startServer(socketDirectory: socketDirectory)
                try candidate.createDatabaseIfMissing()
                logger.info("embedded PostgreSQL running", metadata: ["pg.port": "\(port)"])
                return candidate
            } catch {
                lastError = error
                try? candidate.pgctl(["stop", "-m", "immediate", "-w"])
            }
        }
        throw lastError ?? DatabaseError(.embeddedServer, message: "PostgreSQL did not start")
    }

    /// The cluster's superuser password: read back for an existing cluster, or chosen and
    /// given to initdb when the data directory is new.
    static func initializeIfNeeded(
        options: Options, dataDirectory: URL, binDirectory: URL, runAsUser: String?, logger: Logger
    ) throws -> String {
        let fileManager = FileManager.default
        let directory = options.directory
        let passwordFile = directory.appendingPathComponent("password")
        if fileManager.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            guard let stored = try? String(contentsOf: passwordFile, encoding: .utf8) else {
                throw DatabaseError(
                    .embeddedServer, message: "\(passwordFile.path) is missing; the cluster in \(dataDirectory.path) cannot be used")
            }
            return stored.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let password = randomToken()
        try writePrivate(password, to: passwordFile)
        // initdb reads the password from a file the server user can read; removed right after.
        let initPasswordFile = directory.appendingPathComponent("initdb-password")
        try writePrivate(password, to: initPasswordFile)
        defer { try? fileManager.removeItem(at: initPasswordFile) }
        if let runAsUser { try run("/bin/chown", [runAsUser, initPasswordFile.path]) }
        var arguments = [
            "-D", dataDirectory.path, "-U", options.superuser, "--pwfile=\(initPasswordFile.path)",
            "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale",
        ]
        if options.unsafeFastStorage { arguments.append("--no-sync") }
        logger.info("creating embedded PostgreSQL cluster", metadata: ["pg.data": "\(dataDirectory.path)"])
        try runServerCommand(binDirectory.appendingPathComponent("initdb").path, arguments, as: runAsUser, in: directory)
        return password
    }

    /// The URL of a cluster in `directory` that another process (a running `creditdesk serve`)
    /// already runs, read from its postmaster.pid; nil when none runs there. The caller gets a
    /// URL, not ownership: it must not stop that server.
    package static func runningURL(options: Options) -> String? {
        let directory = options.directory
        guard let pidFile = try? String(contentsOf: directory.appendingPathComponent("pgdata/postmaster.pid"), encoding: .utf8),
            let password = try? String(contentsOf: directory.appendingPathComponent("password"), encoding: .utf8)
        else { return nil }
        let lines = pidFile.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]), kill(pid, 0) == 0 else { return nil }
        return url(
            user: options.superuser, password: password.trimmingCharacters(in: .whitespacesAndNewlines), port: port,
            database: options.database)
    }

    private init(
        options: Options, port: Int, password: String, binDirectory: URL, runAsUser: String?, logger: Logger
    ) {
        self.options = options
        self.port = port
        self.password = password
        self.binDirectory = binDirectory
        self.runAsUser = runAsUser
        self.logger = logger
    }

    private func startServer(socketDirectory: URL) throws {
        var settings = [
            "-c listen_addresses=127.0.0.1", "-p \(port)", "-c unix_socket_directories=\(socketDirectory.path)",
            "-c max_connections=200",
        ]
        if options.unsafeFastStorage {
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        }
        try pgctl([
            "start", "-w", "-t", "60", "-l", options.directory.appendingPathComponent("postgres.log").path,
            "-o", settings.joined(separator: " "),
        ])
    }

    private func createDatabaseIfMissing() throws {
        let connection = try PostgresConnection(settings: ConnectionSettings(url: url(database: "postgres")))
        let exists = try connection.execute("SELECT 1 FROM pg_database WHERE datname = $1", [options.database])
        if exists.rows.isEmpty {
            // Identifiers cannot be parameters; the name is our own configuration, checked here.
            guard options.database.wholeMatch(of: /[a-z_][a-z0-9_]*/) != nil else {
                throw DatabaseError(.embeddedServer, message: "invalid database name \(options.database)")
            }
            try connection.execute("CREATE DATABASE \(options.database)")
        }
    }

    /// Fast shutdown: running transactions are rolled back, then the server exits.
    package func stop() async throws {
        try await runBlocking { try self.stopBlocking() }
    }

    /// `stop` for contexts that cannot await (an atexit handler).
    package func stopBlocking() throws {
        try pgctl(["stop", "-m", "fast", "-w", "-t", "60"])
        logger.info("embedded PostgreSQL stopped")
    }

    /// Restarts the server on the same port and settings (used by reconnect tests). `-l` again:
    /// without it the new postmaster would inherit, and hold open, this process's output pipe.
    package func restart() async throws {
        try await runBlocking {
            try self.pgctl([
                "restart", "-m", "fast", "-w", "-t", "60", "-l",
                self.options.directory.appendingPathComponent("postgres.log").path,
            ])
        }
    }

    func pgctl(_ arguments: [String]) throws {
        try Self.runServerCommand(
            binDirectory.appendingPathComponent("pg_ctl").path, ["-D", dataDirectory.path] + arguments, as: runAsUser,
            in: options.directory)
    }

    // MARK: helpers

    /// The newest `/usr/lib/postgresql/N/bin`, else `pg_config --bindir`.
    static func locateBinaries() throws -> URL {
        let fileManager = FileManager.default
        func usable(_ path: String) -> Bool {
            fileManager.isExecutableFile(atPath: path + "/initdb") && fileManager.isExecutableFile(atPath: path + "/pg_ctl")
        }
        let versions = ((try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where usable("/usr/lib/postgresql/\(version)/bin") {
            return URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
        }
        if let output = try? run("/usr/bin/env", ["pg_config", "--bindir"]) {
            let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if usable(path) { return URL(fileURLWithPath: path) }
        }
        throw DatabaseError(
            .embeddedServer,
            message: "no PostgreSQL server installation found (apt-get install postgresql, or set CREDITDESK_PG_BINDIR)")
    }

    private static func runServerCommand(_ executable: String, _ arguments: [String], as user: String?, in directory: URL)
        throws
    {
        if let user {
            try run("/sbin/runuser", ["-u", user, "--", executable] + arguments, in: directory)
        } else {
            try run(executable, arguments, in: directory)
        }
    }

    /// Runs a program to completion; throws with its output when it exits non-zero.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> String {
        let result = try Subprocess.run(executable, arguments, directory: directory?.path)
        guard result.status == 0 else {
            // Name the real program (behind runuser) and its verb, never the arguments: a
            // password file path is harmless, but keep the habit of not echoing arguments.
            let program = arguments.first { $0.hasPrefix("/") } ?? executable
            let verb = arguments.first { !$0.hasPrefix("-") && !$0.hasPrefix("/") && $0 != "postgres" } ?? ""
            throw DatabaseError(
                .embeddedServer,
                message: "\(URL(fileURLWithPath: program).lastPathComponent) \(verb) exited with status \(result.status): \(result.output.suffix(2000))"
            )
        }
        return result.output
    }

    private static func writePrivate(_ text: String, to url: URL) throws {
        try? FileManager.default.removeItem(at: url)
        guard FileManager.default.createFile(
            atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw DatabaseError(.embeddedServer, message: "cannot write \(url.path)")
        }
    }

    private static func randomToken() -> String { Digest.hex(SecureRandom.bytes(24)) }
}
