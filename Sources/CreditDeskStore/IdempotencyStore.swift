import CreditDeskCore
import CreditDeskDB
import Foundation

/// Idempotency keys, claimed first thing in the mutation's own transaction. A key is the
/// acting user's own: the same key from a colleague is a different key, so a replay never
/// hands one user's response to another.
///
/// A concurrent request with the same key blocks on the primary key until the first commits
/// (then it replays the stored response) or rolls back (then it proceeds as the first). A
/// request that fails is rolled back together with its claim, so its key can be used again.
package enum IdempotencyStore {
    package struct StoredResponse: Sendable, Equatable {
        package let status: Int
        package let body: String

        package init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    package enum Claim: Sendable {
        /// The key is new: go ahead, and record the response with `complete`.
        case claimed
        /// The same request was already applied: answer with what it answered.
        case replay(StoredResponse)
    }

    static let insert = """
        INSERT INTO idempotency_keys (tenant_id, account_id, user_id, key, request_hash, operation_id)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING key
        """
    static let select = """
        SELECT request_hash, response_status, response_body FROM idempotency_keys
        WHERE tenant_id = $1 AND account_id = $2 AND user_id = $3 AND key = $4
        """
    static let complete = """
        UPDATE idempotency_keys SET response_status = $5, response_body = $6
        WHERE tenant_id = $1 AND account_id = $2 AND user_id = $3 AND key = $4
        """

    package static func claim(
        _ connection: PostgresConnection, principal: Principal, key: String, requestHash: String, operationID: UUID
    ) throws -> Claim {
        let inserted = try connection.execute(
            insert, [principal.tenantID, principal.accountID, principal.userID, key, requestHash, operationID])
        if !inserted.rows.isEmpty { return .claimed }
        let row = try connection.execute(select, [principal.tenantID, principal.accountID, principal.userID, key]).single()
        guard try row.decode(String.self, "request_hash") == requestHash else {
            throw DomainError(
                .idempotencyConflict,
                "this Idempotency-Key was already used for a different request; use a new key for a new request")
        }
        guard let status = try row.decode(Int?.self, "response_status"),
            let body = try row.decode(String?.self, "response_body")
        else {
            // Claimed and committed without a response cannot happen: both are one transaction.
            throw DatabaseError(.other, message: "idempotency key without a recorded response")
        }
        return .replay(StoredResponse(status: status, body: body))
    }

    /// Stores the response; sent with the transaction's COMMIT, in its round trip (a failure
    /// to store it fails the commit, so the work and its response still commit together).
    package static func complete(
        _ connection: PostgresConnection, principal: Principal, key: String, response: StoredResponse
    ) {
        connection.sendWithNext(
            complete, [principal.tenantID, principal.accountID, principal.userID, key, response.status, response.body])
    }
}
