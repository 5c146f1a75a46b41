import CreditDeskCore
import CreditDeskDB
import Foundation

/// Where replies to a user's messages are forwarded, and whose a reply is. Every function runs
/// in the caller's transaction.
package enum ReplyRoutingStore {

    static let upsertRouting = """
        INSERT INTO reply_routing (tenant_id, user_id, channel, mobile, email) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_id) DO UPDATE SET channel = EXCLUDED.channel, mobile = EXCLUDED.mobile, email = EXCLUDED.email,
            updated_at = now()
        """
    static let selectRouting = """
        SELECT u.id, coalesce(r.channel, 'none') AS channel, r.mobile, coalesce(r.email, u.email) AS email
        FROM users u LEFT JOIN reply_routing r ON r.user_id = u.id WHERE u.id = $1
        """
    /// The user who last wrote to a number from this account: replies from it are theirs.
    static let lastWriter = """
        SELECT user_id FROM messages
        WHERE account_id = $1 AND direction = 'outbound' AND recipient = $2 AND user_id IS NOT NULL
        ORDER BY created_at DESC LIMIT 1
        """

    package struct ReplyRouting: Sendable, Equatable {
        package let userID: UUID
        package let channel: ReplyChannel
        package let mobile: String?
        package let email: String?
    }

    package static func setReplyRouting(
        _ connection: PostgresConnection, user: UserRecord, channel: ReplyChannel, mobile: String?, email: String?
    ) throws -> ReplyRouting {
        try connection.execute(upsertRouting, [user.tenantID, user.id, channel.rawValue, mobile, email])
        guard let routing = try replyRouting(connection, userID: user.id) else {
            throw DatabaseError(.other, message: "reply routing not found right after it was written")
        }
        return routing
    }

    package static func replyRouting(_ connection: PostgresConnection, userID: UUID) throws -> ReplyRouting? {
        try connection.execute(selectRouting, [userID]).first.map { row in
            ReplyRouting(
                userID: try row.decode(UUID.self, "id"),
                channel: ReplyChannel(rawValue: try row.decode(String.self, "channel")) ?? .none,
                mobile: try row.decode(String?.self, "mobile"), email: try row.decode(String?.self, "email"))
        }
    }

    package static func lastWriter(_ connection: PostgresConnection, accountID: UUID, phone: String) throws -> UUID? {
        try connection.execute(lastWriter, [accountID, phone]).first?.decode(UUID.self, "user_id")
    }
}
