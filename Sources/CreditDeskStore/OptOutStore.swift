import CreditDeskCore
import CreditDeskDB
import Foundation

/// Numbers that opted out of an account's messages, by keyword or by an admin.
package enum OptOutStore {
    // MARK: statements

    static let isOptedOut = "SELECT 1 FROM opt_outs WHERE account_id = $1 AND phone = $2"
    static let insertOptOut = """
        INSERT INTO opt_outs (tenant_id, account_id, phone, source) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
        """
    static let deleteOptOut = "DELETE FROM opt_outs WHERE account_id = $1 AND phone = $2"
    static let selectOptOuts = """
        SELECT phone, source, created_at FROM opt_outs
        WHERE account_id = $1 AND ($2::text IS NULL OR phone > $2) ORDER BY phone LIMIT $3
        """

    package static func isOptedOut(_ connection: PostgresConnection, accountID: UUID, phone: String) throws -> Bool {
        try connection.execute(isOptedOut, [accountID, phone]).first != nil
    }

    package static func optOut(_ connection: PostgresConnection, account: AccountRecord, phone: String, source: String) throws {
        try connection.execute(insertOptOut, [account.tenantID, account.id, phone, source])
    }

    package static func optIn(_ connection: PostgresConnection, accountID: UUID, phone: String) throws -> Bool {
        try connection.execute(deleteOptOut, [accountID, phone]).affectedRows > 0
    }

    package static func optOuts(_ connection: PostgresConnection, accountID: UUID, after: String?, limit: Int) throws
        -> [(phone: String, source: String, createdAt: Date)]
    {
        try connection.execute(selectOptOuts, [accountID, after, Int64(limit)]).rows.map {
            (try $0.decode(String.self, "phone"), try $0.decode(String.self, "source"), try $0.decode(Date.self, "created_at"))
        }
    }
}
