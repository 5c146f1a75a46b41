import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// The one way a mutation runs, for the API and the CLI alike: in one transaction, claim the
/// acting user's idempotency key, do the work, store the answer, commit. A replay (same user,
/// same key, same request) answers the stored answer without doing the work again; the same key
/// with a different request is `idempotency_conflict`; a failure rolls the claim back with the
/// work, so the key can be used again. Transient failures retry the whole transaction.
package enum IdempotentMutation {
    /// What the caller answers with: the stored response, and whether it is a replay.
    package struct Outcome: Sendable {
        package let status: Int
        package let body: String
        package let replayed: Bool
    }

    /// How a result is written down: the body answered now, and the body stored for replays
    /// (the same, or without a secret that is shown once).
    package struct Rendering: Sendable {
        package let body: String
        package let replayBody: String

        package init(body: String, replayBody: String? = nil) {
            self.body = body
            self.replayBody = replayBody ?? body
        }
    }

    package static func run<T>(
        pool: DatabasePool, principal: Principal, origin: RequestOrigin, key: String, requestHash: String,
        requestID: String, status: Int, render: @escaping @Sendable (T) throws -> Rendering,
        _ work: @escaping @Sendable (PostgresConnection, OperationContext) throws -> T
    ) async throws -> Outcome {
        let outcome = try await pool.withOperation(
            actorUserID: principal.userID, requestID: requestID, origin: origin
        ) {
            connection, operation in
            switch try IdempotencyStore.claim(
                connection, principal: principal, key: key, requestHash: requestHash, operationID: operation.operationID)
            {
            case .replay(let stored):
                return Outcome(status: stored.status, body: stored.body, replayed: true)
            case .claimed:
                let rendering = try render(try work(connection, operation))
                IdempotencyStore.complete(
                    connection, principal: principal, key: key, response: .init(status: status, body: rendering.replayBody))
                return Outcome(status: status, body: rendering.body, replayed: false)
            }
        }
        if outcome.replayed { Telemetry.replayed() }
        return outcome
    }
}
