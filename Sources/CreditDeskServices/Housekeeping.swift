import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes what no rule reads any more, once a minute on every daemon (two daemons deleting
/// the same rows merely wait on each other): the counts of cap windows long over. Each
/// transaction deletes a bounded number of rows, so a backlog never holds locks for long.
package struct Housekeeping: Service {
    let pool: DatabasePool
    let logger: Logger
    var interval: Duration = .seconds(60)
    static let rowsPerTransaction = 10_000

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
            while true {
                let deleted = try await pool.withTransaction {
                    try CapStore.prune($0, window: window, before: before, limit: Self.rowsPerTransaction)
                }
                total += deleted
                if deleted < Self.rowsPerTransaction { break }
            }
        }
        return total
    }
}
