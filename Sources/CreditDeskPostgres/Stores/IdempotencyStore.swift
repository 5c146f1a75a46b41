import CreditDeskCore
import Foundation

/// Idempotency keys, claimed first thing in the mutation's own transaction.
///
/// A concurrent request with the same key blocks on the primary key until the first commits
/// (then it replays the stored response) or rolls back (then it proceeds as the first). A
/// request that fails is rolled back together with its claim, so its key can be used again.
public enum IdempotencyStore {
    public struct StoredResponse: Sendable, Equatable {
        public let status: Int
        public let body: String

        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    public enum Claim: Sendable {
        /// The key is new: go ahead, and record the response with `complete`.
        case claimed
        /// The same request was already applied: answer with what it answered.
        case replay(StoredResponse)
    }

    static let insert = """
        INSERT INTO idempotency_keys (tenant_id, account_id, key, request_hash, operation_id)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key
        """
    static let select = """
        SELECT request_hash, response_status, response_body FROM idempotency_keys
        WHERE tenant_id = $1 AND account_id = $2 AND key = $3
        """
    static let complete = """
        UPDATE idempotency_keys SET response_status = $4, response_body = $5
        WHERE tenant_id = $1 AND account_id = $2 AND key = $3
        """

    public static func claim(
        _ connection: PostgresConnection, principal: Principal, key: String, requestHash: String, operationID: UUID
    ) throws -> Claim {
        let inserted = try connection.execute(
            insert, [principal.tenantID, principal.accountID, key, requestHash, operationID])
        if !inserted.rows.isEmpty { return .claimed }
        let row = try connection.execute(select, [principal.tenantID, principal.accountID, key]).single()
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

    public static func complete(
        _ connection: PostgresConnection, principal: Principal, key: String, response: StoredResponse
    ) throws {
        try connection.execute(complete, [principal.tenantID, principal.accountID, key, response.status, response.body])
    }
}
