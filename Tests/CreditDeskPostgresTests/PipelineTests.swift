import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB

/// Statements queued with `sendWithNext` travel with the next statement (pipeline mode): they
/// run first, in order, and their failure is that statement's, so a transaction still commits
/// or rolls back as a whole.
@Suite("Pipelined statements")
struct PipelineTests {
    @Test("a queued statement runs before the next one, in order, inside the transaction")
    func order() async throws {
        try await withTestDatabase { pool in
            _ = try await pool.withConnection { try $0.execute("CREATE TABLE t (n int PRIMARY KEY)") }
            let seen = try await pool.withTransaction { connection in
                connection.sendWithNext("INSERT INTO t VALUES ($1)", [1])
                connection.sendWithNext("INSERT INTO t VALUES ($1)", [2])
                return try connection.execute("SELECT count(*) AS n, txid_current_if_assigned() IS NOT NULL AS tx FROM t").single()
            }
            #expect(try seen.decode(Int64.self, "n") == 2)
            #expect(try seen.decode(Bool.self, "tx"))
        }
    }

    @Test("a queued statement that fails at COMMIT rolls back the transaction's work, and the connection is reusable")
    func failureAtCommit() async throws {
        try await withTestDatabase(poolSize: 1) { pool in
            _ = try await pool.withConnection { try $0.execute("CREATE TABLE t (n int PRIMARY KEY)") }
            _ = try await pool.withTransaction { try $0.execute("INSERT INTO t VALUES ($1)", [1]) }
            let error = await #expect(throws: DatabaseError.self) {
                try await pool.withTransaction { connection in
                    try connection.execute("INSERT INTO t VALUES ($1)", [2])
                    // Sent with COMMIT: a duplicate key, so nothing of this transaction may stay.
                    connection.sendWithNext("INSERT INTO t VALUES ($1)", [1])
                }
            }
            #expect(error?.code == .uniqueViolation)
            let rows = try await pool.withConnection { connection in
                try connection.execute("SELECT n FROM t ORDER BY n").rows.map { try $0.decode(Int.self, "n") }
            }
            #expect(rows == [1])
            #expect(try await pool.withConnection { $0.isHealthy })
        }
    }

    @Test("a queued statement that fails fails the statement it travelled with; the statements after it do not run")
    func failureMidway() async throws {
        try await withTestDatabase(poolSize: 1) { pool in
            _ = try await pool.withConnection { try $0.execute("CREATE TABLE t (n int PRIMARY KEY)") }
            await #expect(throws: DatabaseError.self) {
                try await pool.withTransaction { connection in
                    connection.sendWithNext("INSERT INTO t VALUES ($1)", ["not a number"])
                    try connection.execute("INSERT INTO t VALUES ($1)", [5])
                }
            }
            let count = try await pool.withConnection { try $0.execute("SELECT count(*) AS n FROM t").single() }
            #expect(try count.decode(Int64.self, "n") == 0)
            // An empty transaction sends BEGIN and COMMIT together.
            try await pool.withTransaction { _ in }
            #expect(try await pool.withConnection { $0.isHealthy && !$0.hasQueuedStatements })
        }
    }

    @Test("a session that sent more than a megabyte of parameters is closed after use, and its slot opens a new one")
    func largeParametersRetireTheSession() async throws {
        try await withTestDatabase(poolSize: 1) { pool in
            let pid = { try await pool.withConnection { try $0.execute("SELECT pg_backend_pid() AS p").single().decode(Int64.self, "p") } }
            let first = try await pid()
            #expect(try await pid() == first)
            let large = String(repeating: "x", count: PostgresConnection.largeParametersBytes + 1)
            let length = try await pool.withConnection { connection in
                try connection.execute("SELECT length($1) AS n", [large]).single().decode(Int64.self, "n")
            }
            #expect(length == Int64(large.utf8.count))
            #expect(try await pid() != first)
        }
    }
}
