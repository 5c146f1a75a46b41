import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import Foundation
import Metrics

/// Every metric the services record, named in one place, through swift-metrics: the daemon
/// exports them to Prometheus; a program embedding the library gets them in whatever backend
/// it bootstrapped (or nowhere). Labels carry kinds, units, statuses and providers, never an
/// account, a user or a number: no tenant data, and a bounded number of series.
/// docs/ARCHITECTURE.md "Metrics" lists them.
package enum Telemetry {
    package static let creditOperations = "creditdesk_credit_operations_total"
    package static let idempotentReplays = "creditdesk_idempotent_replays_total"
    package static let messages = "creditdesk_messages_total"
    package static let gatewaySubmission = "creditdesk_gateway_submission_duration_seconds"
    package static let exportRows = "creditdesk_export_rows_total"
    package static let keyLookups = "creditdesk_key_cache_lookups_total"
    package static let webhookDeliveries = "creditdesk_webhook_attempts_total"

    /// Creates every series the services record, at zero, so that a dashboard or an alert finds
    /// them (and `rate()` works) before the first message or export happens.
    package static func declareAll() {
        for kind in EntryKind.allCases {
            for unit in CreditUnit.allCases {
                _ = Counter(label: creditOperations, dimensions: [("kind", kind.rawValue), ("unit", unit.rawValue)])
            }
        }
        for status in MessageStatus.allCases { _ = Counter(label: messages, dimensions: [("status", status.rawValue)]) }
        _ = Counter(label: idempotentReplays)
        for provider in GatewayProvider.allCases {
            for outcome in SubmitResult.outcomes {
                _ = Timer(label: gatewaySubmission, dimensions: [("provider", provider.rawValue), ("outcome", outcome)])
            }
        }
        for detail in UsageExport.Detail.allCases { _ = Counter(label: exportRows, dimensions: [("detail", detail.rawValue)]) }
        for result in ["hit", "miss"] { _ = Counter(label: keyLookups, dimensions: [("result", result)]) }
        for outcome in ["delivered", "failed"] { _ = Counter(label: webhookDeliveries, dimensions: [("outcome", outcome)]) }
    }

    /// What a committed transaction wrote: ledger entries by kind and unit, messages by the
    /// status they entered.
    package static func record(_ tally: Tally) {
        for (key, count) in tally.entryTotals {
            Counter(label: creditOperations, dimensions: [("kind", key.kind.rawValue), ("unit", key.unit.rawValue)])
                .increment(by: count)
        }
        for (status, count) in tally.messageTotals {
            Counter(label: messages, dimensions: [("status", status.rawValue)]).increment(by: count)
        }
    }

    /// An API key looked up: answered from the key cache, or read from the database.
    package static func keyLookup(hit: Bool) {
        Counter(label: keyLookups, dimensions: [("result", hit ? "hit" : "miss")]).increment()
    }

    /// A mutation answered from its stored response (a client's retry).
    package static func replayed() {
        Counter(label: idempotentReplays).increment()
    }

    /// One submission to a gateway: how long the gateway took to answer, and what it answered.
    package static func submitted(provider: GatewayProvider, outcome: String, duration: Duration) {
        Timer(label: gatewaySubmission, dimensions: [("provider", provider.rawValue), ("outcome", outcome)])
            .record(duration: duration)
    }

    /// One webhook delivery attempt and its outcome (`delivered` or `failed`: to be retried or not).
    package static func webhookDelivery(_ outcome: String) {
        Counter(label: webhookDeliveries, dimensions: [("outcome", outcome)]).increment()
    }

    /// Rows of an export written to its client.
    package static func exported(_ detail: String, rows: Int) {
        guard rows > 0 else { return }
        Counter(label: exportRows, dimensions: [("detail", detail)]).increment(by: rows)
    }
}

extension DatabasePool {
    /// `withRetryingTransaction` with an `OperationContext` of its own for each attempt; what
    /// the attempt that committed wrote is counted in the metrics (see `Telemetry.record`).
    package func withOperation<T: Sendable>(
        actorUserID: UUID?, requestID: String?, origin: RequestOrigin = .system,
        _ body: @escaping @Sendable (PostgresConnection, OperationContext) throws -> T
    ) async throws -> T {
        let (value, tally) = try await withTalliedOperation(
            actorUserID: actorUserID, requestID: requestID, origin: origin, body)
        Telemetry.record(tally)
        return value
    }

    /// The same, answering the committed attempt's tally instead of recording it.
    package func withTalliedOperation<T: Sendable>(
        actorUserID: UUID?, requestID: String?, origin: RequestOrigin = .system,
        _ body: @escaping @Sendable (PostgresConnection, OperationContext) throws -> T
    ) async throws -> (T, Tally) {
        try await withRetryingTransaction { connection in
            let context = OperationContext(actorUserID: actorUserID, requestID: requestID, origin: origin)
            return (try body(connection, context), context.tally)
        }
    }
}
