import CreditDeskTestSupport
import Foundation
import Logging
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

@Suite("Pool and transactions")
struct PoolTests {
    struct Boom: Error {}

    @Test("withTransaction commits on return and rolls back on throw")
    func rollback() async throws {
        try await withTestDatabase { pool in
            _ = try await pool.withConnection { try $0.execute("CREATE TABLE t (v int)") }
            _ = try await pool.withTransaction { try $0.execute("INSERT INTO t VALUES ($1)", [1]) }
            await #expect(throws: Boom.self) {
                try await pool.withTransaction { connection in
                    try connection.execute("INSERT INTO t VALUES ($1)", [2])
                    throw Boom()
                }
            }
            // A failed statement aborts the transaction; the whole of it must be gone.
            await #expect(throws: DatabaseError.self) {
                try await pool.withTransaction { connection in
                    try connection.execute("INSERT INTO t VALUES ($1)", [3])
                    try connection.execute("INSERT INTO t VALUES ($1)", ["not a number"])
                }
            }
            let values = try await pool.withConnection { connection in
                try connection.execute("SELECT v FROM t ORDER BY v").rows.map { try $0.decode(Int.self, "v") }
            }
            #expect(values == [1])
            // The connection that saw the rollbacks is idle again, not stuck in a transaction.
            let status = try await pool.withConnection { $0.isHealthy }
            #expect(status)
        }
    }

    /// Starts a task that holds the pool's only connection until `release` is signalled.
    func holdOnlyConnection(_ pool: DatabasePool, seconds: Double) async -> Task<Void, any Error> {
        let (started, signal) = AsyncStream<Void>.makeStream()
        let task = Task {
            try await pool.withConnection { connection in
                signal.yield()
                try connection.execute("SELECT pg_sleep($1::float8)", [String(seconds)])
            }
        }
        for await _ in started { break }
        return task
    }

    @Test("a caller finding every connection busy waits for one instead of failing")
    func exhaustionWaits() async throws {
        try await withTestDatabase(poolSize: 1) { pool in
            let holder = await holdOnlyConnection(pool, seconds: 0.3)
            // The only connection is busy now; this call must wait for it, then succeed.
            let value = try await pool.withConnection { try $0.execute("SELECT 7 AS v").single().decode(Int.self, "v") }
            #expect(value == 7)
            try await holder.value
        }
    }

    @Test("the wait is bounded: past the acquire timeout the caller gets pool_timeout")
    func exhaustionTimesOut() async throws {
        let url = try await TestCluster.shared.makeDatabase()
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: url), size: 1, acquireTimeoutMilliseconds: 50),
            logger: Logger(label: "test"))
        let holder = await holdOnlyConnection(pool, seconds: 2)
        let error = await #expect(throws: DatabaseError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.code == .poolTimeout)
        try await holder.value
        // Once released, the connection serves again.
        #expect(try await pool.withConnection { _ in 2 } == 2)
        await pool.shutdown()
    }

    @Test("many more concurrent callers than connections all complete")
    func manyCallers() async throws {
        try await withTestDatabase(poolSize: 2) { pool in
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        try await pool.withConnection { connection in
                            try connection.execute("SELECT $1::int AS v", [index]).single().decode(Int.self, "v")
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(sum == (0..<50).reduce(0, +))
        }
    }

    @Test("a pool that is shut down refuses work with pool_closed")
    func closed() async throws {
        let url = try await TestCluster.shared.makeDatabase()
        let pool = DatabasePool(settings: PoolSettings(connection: ConnectionSettings(url: url), size: 1), logger: Logger(label: "test"))
        await pool.shutdown()
        let error = await #expect(throws: DatabaseError.self) { try await pool.withConnection { _ in 1 } }
        #expect(error?.code == .poolClosed)
    }

    @Test("connection failures say so, without the password")
    func connectFailure() async throws {
        let pool = DatabasePool(
            settings: PoolSettings(
                connection: ConnectionSettings(url: "postgresql://nobody:hunter2@127.0.0.1:1/none", connectTimeoutSeconds: 2),
                size: 1),
            logger: Logger(label: "test"))
        let error = await #expect(throws: DatabaseError.self) { try await pool.withConnection { _ in 1 } }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("hunter2") == false)
        await pool.shutdown()
    }
}

@Suite("Reconnect")
struct ReconnectTests {
    @Test("the pool reconnects after the server is restarted with pg_ctl restart")
    func reconnectAfterRestart() async throws {
        // A cluster of its own: restarting the shared one would disturb the other tests.
        let directory = try makeTemporaryDirectory(prefix: "creditdesk-test-restart")
        let server = try await EmbeddedPostgres.start(
            options: .init(directory: directory, unsafeFastStorage: true), logger: Logger(label: "test"))
        registerForExit(server: server, directory: directory)
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: server.url), size: 2), logger: Logger(label: "test"))
        let pidQuery = "SELECT pg_backend_pid() AS pid"
        let before = try await pool.withConnection { try $0.execute(pidQuery).single().decode(Int.self, "pid") }
        _ = try await pool.withConnection { try $0.execute("CREATE TABLE survives (v int)") }

        try await server.restart()

        let after = try await pool.withConnection { try $0.execute(pidQuery).single().decode(Int.self, "pid") }
        #expect(after != before)
        let count = try await pool.withConnection {
            try $0.execute("SELECT count(*)::int AS c FROM survives").single().decode(Int.self, "c")
        }
        #expect(count == 0)
        await pool.shutdown()
    }
}

@Suite("Leases")
struct LeaseTests {
    struct Stop: Error {}

    @Test("a lease keeps one session across awaits, and an abandoned transaction never reaches the next caller")
    func lease() async throws {
        try await withTestDatabase(poolSize: 1) { pool in
            let pids = try await pool.withLease { lease in
                let first = try await lease.run { try $0.execute("SELECT pg_backend_pid() AS p").single().decode(Int.self, "p") }
                try await Task.sleep(for: .milliseconds(10))
                let second = try await lease.run { try $0.execute("SELECT pg_backend_pid() AS p").single().decode(Int.self, "p") }
                return [first, second]
            }
            #expect(pids[0] == pids[1])
            // A body that throws with a transaction open: the work is rolled back.
            _ = try await pool.withConnection { try $0.execute("CREATE TABLE leased (v int)") }
            await #expect(throws: Stop.self) {
                try await pool.withLease { lease in
                    try await lease.run { connection in
                        try connection.execute("BEGIN")
                        try connection.execute("INSERT INTO leased VALUES (1)")
                    }
                    throw Stop()
                }
            }
            // A body that returns with a transaction open: the session is dropped, not reused mid-transaction.
            try await pool.withLease { lease in
                try await lease.run { connection in
                    try connection.execute("BEGIN")
                    try connection.execute("INSERT INTO leased VALUES (2)")
                }
            }
            let (count, idle) = try await pool.withConnection { connection in
                (
                    try connection.execute("SELECT count(*)::int AS c FROM leased").single().decode(Int.self, "c"),
                    connection.isHealthy
                )
            }
            #expect(count == 0)
            #expect(idle)
        }
    }
}
