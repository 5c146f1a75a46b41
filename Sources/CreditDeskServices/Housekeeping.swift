import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes what no rule reads any more, once a minute on every daemon (two daemons deleting
/// the same rows merely wait on each other): the counts of cap windows long over, and webhook
/// deliveries and events `webhookRetentionSeconds` (30 days) old, delivered or not (an endpoint
/// disabled for longer loses what it missed). Each transaction deletes a bounded number of
/// rows, so a backlog never holds locks for long.
package struct Housekeeping: Service {
    let pool: DatabasePool
    let logger: Logger
    var interval: Duration = .seconds(60)
    static let rowsPerTransaction = 10_000
    package static let webhookRetentionSeconds: Double = 30 * 86_400

    package init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sweep()
                } catch {
                    logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One round: every kind of window kept for a limited time, until none is left to delete.
    /// Answers how many rows went.
    @discardableResult
    package func sweep(now: Date = Date()) async throws -> Int {
        var total = 0
        for window in CapWindow.allCases {
            guard let keptSeconds = window.keptSeconds else { continue }
            let before = now.addingTimeInterval(-keptSeconds)
            total += try await untilDone { try CapStore.prune($0, window: window, before: before, limit: $1) }
        }
        let webhooksBefore = now.addingTimeInterval(-Self.webhookRetentionSeconds)
        total += try await untilDone { try WebhookStore.prune($0, before: webhooksBefore, limit: $1) }
        return total
    }

    /// Runs `prune` (given a row limit) a transaction at a time until it deletes fewer rows than
    /// the limit; answers how many went.
    func untilDone(_ prune: @escaping @Sendable (PostgresConnection, Int) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.withTransaction { try prune($0, Self.rowsPerTransaction) }
            total += deleted
            if deleted < Self.rowsPerTransaction { return total }
        }
    }
}
