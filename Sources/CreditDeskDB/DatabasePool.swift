import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

package struct PoolSettings: Sendable {
    package var connection: ConnectionSettings
    /// Connections, and threads running their blocking calls. Fixed: the pool never grows.
    package var size: Int
    /// How long a caller waits for a free connection before getting `pool_timeout`.
    package var acquireTimeoutMilliseconds: Int

    package init(connection: ConnectionSettings, size: Int = 8, acquireTimeoutMilliseconds: Int = 10_000) {
        precondition(size >= 1, "a pool needs at least one connection")
        self.connection = connection
        self.size = size
        self.acquireTimeoutMilliseconds = acquireTimeoutMilliseconds
    }
}

package enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"

    var begin: String { "BEGIN ISOLATION LEVEL \(rawValue)" }
    /// One statement rather than BEGIN plus SET TRANSACTION: a round trip less per read.
    var beginReadOnly: String { "BEGIN ISOLATION LEVEL \(rawValue) READ ONLY" }
}

/// A fixed set of libpq connections, each driven by one thread of a private `NIOThreadPool`.
///
/// The guarantee that no blocking call runs on an event loop is structural: the only way to a
/// `PostgresConnection` is a synchronous closure passed to `withConnection`/`withTransaction`,
/// and the pool runs that closure on its own thread pool, never on the caller's thread.
/// Callers that find every connection busy wait in FIFO order, at most
/// `acquireTimeoutMilliseconds`, then fail with `pool_timeout` rather than queue forever.
package final class DatabasePool: Sendable {
    package let settings: PoolSettings
    fileprivate let threadPool: NIOThreadPool
    private let state: NIOLockedValueBox<State>
    private let logger: Logger

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<PostgresConnection?, any Error>
    }

    private struct State {
        /// Idle connections; nil stands for a slot whose connection is not opened yet.
        var idle: [PostgresConnection?]
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    package init(settings: PoolSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: settings.size)
        self.threadPool.start()
        self.state = NIOLockedValueBox(State(idle: Array(repeating: nil, count: settings.size)))
    }

    /// Closes every connection and stops the threads. Waiting callers get `pool_closed`.
    package func shutdown() async {
        let waiters = state.withLockedValue { state -> [Waiter] in
            state.closed = true
            let waiters = state.waiters
            state.waiters = []
            state.idle = []
            return waiters
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: DatabaseError(.poolClosed, message: "the pool is shut down"))
        }
        try? await threadPool.shutdownGracefully()
    }

    /// Runs `body` with exclusive use of one connection, on a pool thread.
    package func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let slot = try await acquire()
        var connection = slot
        do {
            let result: (T?, PostgresConnection?, (any Error)?) = try await threadPool.runIfActive {
                // Open lazily, and replace a session the server dropped while it sat idle.
                let live: PostgresConnection
                do {
                    live = try Self.ensureLive(slot, settings: self.settings.connection)
                } catch {
                    return (nil, nil, error)
                }
                do {
                    return (try body(live), live, nil)
                } catch {
                    return (nil, live, error)
                }
            }
            // A session that sent megabytes is closed: the slot opens a new one when next used.
            connection = result.1.flatMap { $0.retiresAfterUse ? nil : $0 }
            if let error = result.2 { throw error }
            release(connection)
            return result.0!
        } catch {
            // A connection that lost its session is dropped; the slot reconnects next time.
            if let databaseError = error as? DatabaseError, databaseError.code == .connectionLost {
                logger.warning("database connection lost", metadata: ["db.error": "\(databaseError)"])
                connection = nil
            }
            release(connection)
            throw error
        }
    }

    /// Runs `body` inside BEGIN … COMMIT; any thrown error rolls back and is rethrown.
    package func withTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted, readOnly: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            // Sent with the transaction's first statement, in its round trip (pipeline mode).
            connection.sendWithNext(readOnly ? isolation.beginReadOnly : isolation.begin)
            do {
                let value = try body(connection)
                do {
                    try connection.execute("COMMIT")
                } catch let error as DatabaseError where error.code == .connectionLost {
                    // The server may or may not have committed: never report this as a
                    // plain (retryable) connection loss, or a retry could apply work twice.
                    throw DatabaseError(
                        .commitOutcomeUnknown, message: "connection lost while committing: \(error.message)")
                }
                return value
            } catch {
                // After a lost connection there is nothing to roll back; keep the first error.
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// `withTransaction`, run again (a bounded number of times) when it fails with a
    /// serialization failure, a deadlock or a lost connection before commit. The body must
    /// be safe to repeat: everything it did was rolled back with the failed attempt.
    package func withRetryingTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted, attempts: Int = 5,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await withTransaction(isolation: isolation, body)
            } catch let error as DatabaseError where error.isTransient && attempt < attempts {
                attempt += 1
                // Jittered backoff so that colliding transactions do not collide again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            }
        }
    }

    /// One connection pinned for a sequence of calls, e.g. a cursor read in batches while a
    /// slow consumer is awaited between them. Each `run` is still executed on a pool thread.
    package struct Lease: Sendable {
        let pool: DatabasePool
        let connection: PostgresConnection

        package func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
            let connection = self.connection
            return try await pool.threadPool.runIfActive { try body(connection) }
        }
    }

    /// Lends one connection for the duration of `body`. The connection goes back to the pool
    /// afterwards, or is dropped if it is no longer idle (the body left a transaction open, or
    /// the session broke), so a lease can never hand a half-used session to the next caller.
    package func withLease<T: Sendable>(_ body: (Lease) async throws -> T) async throws -> T {
        let slot = try await acquire()
        let connection: PostgresConnection
        do {
            connection = try await threadPool.runIfActive { try Self.ensureLive(slot, settings: self.settings.connection) }
        } catch {
            release(slot)
            throw error
        }
        let lease = Lease(pool: self, connection: connection)
        do {
            let value = try await body(lease)
            let healthy = (try? await threadPool.runIfActive { connection.isHealthy }) ?? false
            release(healthy ? connection : nil)
            return value
        } catch {
            // Roll back whatever the body left open before the connection is reused.
            let healthy =
                (try? await threadPool.runIfActive { () -> Bool in
                    _ = try? connection.execute("ROLLBACK")
                    return connection.isHealthy
                }) ?? false
            release(healthy ? connection : nil)
            throw error
        }
    }

    private static func ensureLive(_ slot: PostgresConnection?, settings: ConnectionSettings) throws
        -> PostgresConnection
    {
        guard let slot else { return try PostgresConnection(settings: settings) }
        if !slot.isHealthy { try slot.reconnect() }
        return slot
    }

    // MARK: checkout

    private func acquire() async throws -> PostgresConnection? {
        enum Outcome {
            case ready(PostgresConnection?)
            case wait(UInt64)
            case closed
        }
        let started = ContinuousClock.now
        let waiterID = state.withLockedValue { state -> Outcome in
            if state.closed { return .closed }
            if !state.idle.isEmpty {
                defer { report(state) }
                return .ready(state.idle.removeLast())
            }
            state.nextWaiterID += 1
            return .wait(state.nextWaiterID)
        }
        let id: UInt64
        switch waiterID {
        case .ready(let connection):
            Timer(label: PoolMetrics.wait).record(duration: ContinuousClock.now - started)
            return connection
        case .closed: throw DatabaseError(.poolClosed, message: "the pool is shut down")
        case .wait(let waitID): id = waitID
        }
        defer { Timer(label: PoolMetrics.wait).record(duration: ContinuousClock.now - started) }

        let timeout = settings.acquireTimeoutMilliseconds
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let enqueued = state.withLockedValue { state -> Bool in
                    // A connection may have come back between the two locks.
                    if !state.idle.isEmpty {
                        continuation.resume(returning: state.idle.removeLast())
                        return false
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    report(state)
                    return true
                }
                guard enqueued else { return }
                Task { [weak self] in
                    try? await Task.sleep(for: .milliseconds(timeout))
                    self?.failWaiter(
                        id,
                        DatabaseError(
                            .poolTimeout,
                            message: "no database connection became free within \(timeout) ms"))
                }
            }
        } onCancel: {
            failWaiter(id, CancellationError())
        }
    }

    private func failWaiter(_ id: UInt64, _ error: any Error) {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            defer { report(state) }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ connection: PostgresConnection?) {
        let waiter = state.withLockedValue { state -> Waiter? in
            if state.closed { return nil }
            defer { report(state) }
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: connection)
    }

    /// The checkout's state as gauges (called under the lock, so they never go backwards).
    private func report(_ state: State) {
        Gauge(label: PoolMetrics.inUse).record(settings.size - state.idle.count)
        Gauge(label: PoolMetrics.waiting).record(state.waiters.count)
    }
}

/// The pool's metrics (swift-metrics; exported by the daemon at `/metrics`).
package enum PoolMetrics {
    package static let inUse = "creditdesk_db_pool_connections_in_use"
    package static let waiting = "creditdesk_db_pool_waiters"
    /// From asking for a connection to having one (zero when one was idle).
    package static let wait = "creditdesk_db_pool_wait_duration_seconds"
}
