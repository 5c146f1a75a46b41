import CreditDeskCore
import CreditDeskDB
import Foundation

package struct PackageRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let name: String
    package let smsCredits: Int64
    package let mmsCredits: Int64
    package let priceMinor: Int64
    package let currency: String
    package let active: Bool
    package let createdAt: Date
}

package struct SaleRecord: Sendable, Equatable {
    package let id: UUID
    package let packageID: UUID
    package let sellerID: UUID
    package let buyerID: UUID
    package let smsCredits: Int64
    package let mmsCredits: Int64
    package let priceMinor: Int64
    package let currency: String
    package let createdAt: Date
}

package enum PackageStore {
    static let columns = "id, tenant_id, account_id, name, sms_credits, mms_credits, price_minor, currency, active, created_at"
    static let insert = """
        INSERT INTO packages (tenant_id, id, account_id, name, sms_credits, mms_credits, price_minor, currency, active)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING \(columns)
        """
    static let selectByID = "SELECT \(columns) FROM packages WHERE id = $1"
    static let selectByAccount = """
        SELECT \(columns) FROM packages WHERE account_id = $1 AND ($2::boolean IS NULL OR active = $2)
        ORDER BY lower(name), id
        """
    static let update = """
        UPDATE packages SET name = coalesce($2, name), active = coalesce($3, active) WHERE id = $1 RETURNING \(columns)
        """
    static let insertSale = """
        INSERT INTO package_sales (tenant_id, id, package_id, seller_id, buyer_id, sms_credits, mms_credits,
            price_minor, currency, actor_user_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING created_at
        """

    package static func create(
        _ connection: PostgresConnection, owner: AccountRecord, name: String, smsCredits: Int64, mmsCredits: Int64,
        priceMinor: Int64, currency: String, active: Bool
    ) throws -> PackageRecord {
        try decode(
            try connection.execute(
                insert,
                [owner.tenantID, UUID(), owner.id, name, smsCredits, mmsCredits, priceMinor, currency, active]
            ).single())
    }

    package static func find(_ connection: PostgresConnection, id: UUID) throws -> PackageRecord? {
        try connection.execute(selectByID, [id]).first.map(decode)
    }

    package static func list(_ connection: PostgresConnection, accountID: UUID, active: Bool?) throws -> [PackageRecord] {
        try connection.execute(selectByAccount, [accountID, active]).rows.map(decode)
    }

    package static func update(_ connection: PostgresConnection, id: UUID, name: String?, active: Bool?) throws
        -> PackageRecord
    {
        try decode(try connection.execute(update, [id, name, active]).single())
    }

    package static func recordSale(
        _ connection: PostgresConnection, _ context: OperationContext, package: PackageRecord, buyer: AccountRecord
    ) throws -> SaleRecord {
        let id = UUID()
        let row = try connection.execute(
            insertSale,
            [buyer.tenantID, id, package.id, package.accountID, buyer.id, package.smsCredits, package.mmsCredits,
             package.priceMinor, package.currency, context.actorUserID]
        ).single()
        return SaleRecord(
            id: id, packageID: package.id, sellerID: package.accountID, buyerID: buyer.id,
            smsCredits: package.smsCredits, mmsCredits: package.mmsCredits, priceMinor: package.priceMinor,
            currency: package.currency, createdAt: try row.decode(Date.self, "created_at"))
    }

    static func decode(_ row: PostgresRow) throws -> PackageRecord {
        PackageRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), name: try row.decode(String.self, "name"),
            smsCredits: try row.decode(Int64.self, "sms_credits"), mmsCredits: try row.decode(Int64.self, "mms_credits"),
            priceMinor: try row.decode(Int64.self, "price_minor"), currency: try row.decode(String.self, "currency"),
            active: try row.decode(Bool.self, "active"), createdAt: try row.decode(Date.self, "created_at"))
    }
}
