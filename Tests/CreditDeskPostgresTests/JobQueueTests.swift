import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskStore

/// The job queue's order: transactional jobs first, campaigns taking turns.
@Suite("The job queue: priority and turns")
struct JobQueueTests {
    /// Claims `count` jobs and finishes them; answers their subjects in claim order.
    func work(_ pool: DatabasePool, _ count: Int) async throws -> [UUID] {
        try await pool.withTransaction { connection in
            let jobs = try JobStore.claim(connection, limit: count, leaseSeconds: 60)
            try JobStore.finish(connection, jobIDs: jobs.map(\.id))
            return jobs.map(\.subjectID)
        }
    }

    @Test("a single send goes before a waiting campaign; a campaign confirmed half-way through another takes turns with it")
    func order() async throws {
        try await withTestDatabase { pool in
            let tenant = UUID()
            let big = (0..<100).map { _ in UUID() }, small = (0..<10).map { _ in UUID() }, single = UUID()
            @Sendable func literal(_ ids: [UUID]) -> String { arrayLiteral(ids) }
            try await pool.withTransaction { connection in
                try JobStore.enqueueCampaign(connection, tenantID: tenant, messageIDs: literal(big), runAt: nil)
            }
            #expect(try await work(pool, 30) == Array(big.prefix(30)), "a campaign goes in its own order")
            try await pool.withTransaction { connection in
                try JobStore.enqueueCampaign(connection, tenantID: tenant, messageIDs: literal(small), runAt: nil)
                try JobStore.enqueue(connection, tenantID: tenant, kind: .sendMessage, subjectID: single, runAt: nil)
            }
            let next = try await work(pool, 21)
            #expect(next.first == single, "the single send first")
            let turns = Array(next.dropFirst())
            #expect(Set(turns.filter(small.contains)) == Set(small), "the small campaign is not left behind the big one")
            #expect(turns.filter(big.contains) == Array(big[30..<40]), "and the big one keeps going meanwhile")
            // Alternating: no run of three from one campaign while both wait.
            let sides = turns.map { small.contains($0) }
            #expect(!zip(zip(sides, sides.dropFirst()), sides.dropFirst(2)).contains { $0.0 == $0.1 && $0.1 == $1 })
            // Putting back a batch that failed part-way leaves its finished jobs finished.
            let finished = try await pool.withTransaction { connection in
                let id = try connection.execute("SELECT id FROM jobs WHERE done_at IS NOT NULL LIMIT 1").single().decode(Int64.self, "id")
                try JobStore.retry(connection, jobID: id, afterSeconds: 0, error: "batch failed")
                return try connection.execute("SELECT done_at IS NOT NULL AND last_error IS NULL AS kept FROM jobs WHERE id = $1", [id])
                    .single().decode(Bool.self, "kept")
            }
            #expect(finished)
        }
    }
}
