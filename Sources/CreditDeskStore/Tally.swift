import CreditDeskCore
import Foundation

/// What one transaction wrote that the metrics count: ledger entries by kind and unit, and
/// messages by the status they entered. Filled while the transaction runs, and read by the
/// caller only once it committed: a rolled-back attempt's tally goes away with its
/// `OperationContext`, so a retried or failed transaction is never counted (see
/// docs/ARCHITECTURE.md "Metrics").
package final class Tally: @unchecked Sendable {
    package struct Entries: Hashable, Sendable {
        package let kind: EntryKind
        package let unit: CreditUnit
    }

    // A transaction runs on one thread; the lock only makes reading the tally elsewhere safe.
    private let lock = NSLock()
    private var entryCounts: [Entries: Int] = [:]
    private var messageCounts: [MessageStatus: Int] = [:]

    package init() {}

    package func entries(_ kind: EntryKind, _ unit: CreditUnit, count: Int = 1) {
        guard count > 0 else { return }
        lock.withLock { entryCounts[Entries(kind: kind, unit: unit), default: 0] += count }
    }

    package func messages(_ status: MessageStatus, count: Int = 1) {
        guard count > 0 else { return }
        lock.withLock { messageCounts[status, default: 0] += count }
    }

    package var entryTotals: [Entries: Int] { lock.withLock { entryCounts } }
    package var messageTotals: [MessageStatus: Int] { lock.withLock { messageCounts } }
}
