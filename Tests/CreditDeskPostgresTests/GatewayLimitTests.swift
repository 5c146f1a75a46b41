import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

/// The pieces that hold a gateway's limits across daemons: the token bucket in PostgreSQL,
/// the dispatchers' membership, postponing without using attempts, and the permits.
@Suite("Gateway limits across daemons")
struct GatewayLimitTests {
    /// A client with one Kannel connection limited to `rate` per second.
    func limitedGateway(_ pool: DatabasePool, rate: Int) async throws -> GatewayConnectionRecord {
        try await pool.withTransaction {
            try clientWithGateway(
                $0, limits: GatewayLimits(maxConcurrency: 4, maxMessagesPerSecond: rate),
                box: try SecretBox(encodedKey: SecretBox.generateKey()))
        }
    }

    @Test("four takers at once never get more than the bucket held plus what the time between earned")
    func bucketAcrossTakers() async throws {
        try await withTestDatabase(poolSize: 5) { pool in
            let gateway = try await limitedGateway(pool, rate: 100)
            #expect(gateway.limits == GatewayLimits(maxConcurrency: 4, maxMessagesPerSecond: 100))
            let clock = ContinuousClock()
            let started = clock.now
            let granted = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var total = 0
                        for _ in 0..<40 {
                            total += try await pool.withTransaction {
                                try GatewayStore.takeSendTokens($0, gateway: gateway, want: 5).granted
                            }
                        }
                        return total
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = (clock.now - started) / .seconds(1)
            // The bucket starts with 5 (a twentieth of 100/s) and earns 100 a second: an upper
            // bound a slower machine only makes easier to hold, never a timing to meet.
            #expect(granted <= 5 + Int((elapsed * 100).rounded(.up)) + 1)
            #expect(granted > 0)
        }
    }

    @Test("dispatchers see each other join and leave; a newcomer is noticed only after the others beat")
    func membership() async throws {
        try await withTestDatabase { pool in
            let first = UUID(), second = UUID()
            let alone = try await pool.withTransaction { try DispatcherStore.beat($0, id: first) }
            #expect(alone.map(\.id) == [first])
            let joined = try await pool.withTransaction { try DispatcherStore.beat($0, id: second) }
            #expect(Set(joined.map(\.id)) == [first, second])
            #expect(joined.first { $0.id == first }?.knowsIt == false, "the first has not beaten since the second joined")
            // The second's share stays 0 until every other dispatcher has noticed it.
            let membership = DispatcherMembership()
            membership.record([(membership.id, true), (first, false)])
            #expect(membership.share(of: GatewayLimits(maxConcurrency: 8, maxMessagesPerSecond: nil)) == 0)
            membership.record([(membership.id, true), (first, true)])
            #expect(membership.share(of: GatewayLimits(maxConcurrency: 8, maxMessagesPerSecond: nil)) == 4)
            membership.record([(membership.id, true)])
            #expect(membership.share(of: GatewayLimits(maxConcurrency: 8, maxMessagesPerSecond: nil)) == 8)
            try await pool.withTransaction { try DispatcherStore.leave($0, id: first) }
            let left = try await pool.withTransaction { try DispatcherStore.beat($0, id: second) }
            #expect(left.map(\.id) == [second])
        }
    }

    @Test("a postponed job gives its attempt back and is due again later; a finished one stays finished")
    func postpone() async throws {
        try await withTestDatabase { pool in
            let tenant = UUID(), subject = UUID()
            try await pool.withTransaction {
                try JobStore.enqueue($0, tenantID: tenant, kind: .sendMessage, subjectID: subject, runAt: nil)
            }
            let job = try #require(try await pool.withTransaction { try JobStore.claim($0, limit: 1, leaseSeconds: 60) }.first)
            #expect(job.attempts == 1)
            try await pool.withTransaction { try JobStore.postpone($0, jobIDs: [job.id], afterSeconds: 30) }
            #expect(try await pool.withTransaction { try JobStore.claim($0, limit: 1, leaseSeconds: 60) }.isEmpty)
            let row = try await pool.withConnection {
                try $0.execute(
                    "SELECT attempts, locked_until IS NULL AS free, run_at > now() + interval '20 s' AS later FROM jobs WHERE id = $1",
                    [job.id]
                ).single()
            }
            #expect(try row.decode(Int64.self, "attempts") == 0)
            #expect(try row.decode(Bool.self, "free") && row.decode(Bool.self, "later"))
            try await pool.withTransaction {
                try JobStore.finish($0, jobID: job.id)
                try JobStore.postpone($0, jobIDs: [job.id], afterSeconds: 0)
            }
            let done = try await pool.withConnection {
                try $0.execute("SELECT done_at IS NOT NULL AS done FROM jobs WHERE id = $1", [job.id]).single().decode(Bool.self, "done")
            }
            #expect(done)
        }
    }

    @Test("a job held by a dispatcher that went silent is claimed again before its lease ends; a live holder keeps it")
    func reclaimFromSilentHolder() async throws {
        try await withTestDatabase { pool in
            let (holder, other) = (UUID(), UUID())
            try await pool.withTransaction {
                try JobStore.enqueue($0, tenantID: UUID(), kind: .sendMessage, subjectID: UUID(), runAt: nil)
                _ = try DispatcherStore.beat($0, id: holder)
                _ = try DispatcherStore.beat($0, id: other)
            }
            let claim = { (id: UUID) in
                try await pool.withTransaction { try JobStore.claim($0, limit: 1, leaseSeconds: 600, dispatcherID: id) }
            }
            let job = try #require(try await claim(holder).first)
            #expect(try await claim(other).isEmpty)
            // The holder's last beat just inside the limit: still its own.
            let silentFor = { (seconds: Int) in
                try await pool.withConnection {
                    _ = try $0.execute(
                        "UPDATE dispatchers SET seen_at = now() - make_interval(secs => $2) WHERE id = $1", [holder, Int64(seconds)])
                }
            }
            try await silentFor(DispatcherStore.reclaimSeconds - 2)
            #expect(try await claim(other).isEmpty)
            try await silentFor(DispatcherStore.reclaimSeconds + 1)
            let again = try #require(try await claim(other).first)
            #expect(again.id == job.id && again.attempts == 2)
            // A job claimed outside any dispatcher waits out its lease.
            try await pool.withTransaction {
                try JobStore.enqueue($0, tenantID: UUID(), kind: .sendMessage, subjectID: UUID(), runAt: nil)
            }
            #expect(try await pool.withTransaction { try JobStore.claim($0, limit: 1, leaseSeconds: 600) }.count == 1)
            #expect(try await claim(other).isEmpty)
        }
    }

    @Test("permits: never more holders than the count, waiters in order, a deadline ends the wait")
    func permits() async throws {
        let permits = AsyncPermits(count: 3)
        let counter = HolderCounter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    guard await permits.acquire() else { return }
                    counter.enter()
                    try? await Task.sleep(for: .milliseconds(2))
                    counter.leave()
                    permits.release()
                }
            }
        }
        #expect(counter.maximum <= 3)
        #expect(counter.total == 40)
        // Held full: a waiter with a deadline gives up; one without is let in when the count grows.
        let full = AsyncPermits(count: 1)
        #expect(await full.acquire())
        #expect(await full.acquire(until: .now + .milliseconds(20)) == false)
        async let later = full.acquire()
        while full.load.waiting == 0 { await Task.yield() }
        full.setCount(2)
        #expect(await later)
        #expect(full.load.held == 2)
    }
}

final class HolderCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0
    private(set) var maximum = 0
    private(set) var total = 0

    func enter() {
        lock.withLock {
            now += 1
            total += 1
            maximum = max(maximum, now)
        }
    }

    func leave() { lock.withLock { now -= 1 } }
}
