import CreditDeskCore
import CreditDeskDB
import Foundation

/// A reseller's rate table: credits per SMS segment by destination prefix.
package enum RateStore {
    // MARK: statements

    static let selectRates = "SELECT prefix, credits_per_segment FROM message_rates WHERE reseller_id = $1"
    static let upsertRate = """
        INSERT INTO message_rates (tenant_id, reseller_id, prefix, credits_per_segment) VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id, reseller_id, prefix) DO UPDATE SET credits_per_segment = EXCLUDED.credits_per_segment
        """

    /// A reseller's whole rate table (a few rows: one per destination prefix it prices).
    package static func rates(_ connection: PostgresConnection, resellerID: UUID) throws -> RateTable {
        var rates: [String: Int64] = [:]
        for row in try connection.execute(selectRates, [resellerID]).rows {
            rates[try row.decode(String.self, "prefix")] = try row.decode(Int64.self, "credits_per_segment")
        }
        return RateTable(rates)
    }

    package static func setRate(
        _ connection: PostgresConnection, reseller: AccountRecord, prefix: String, creditsPerSegment: Int64
    ) throws {
        try connection.execute(upsertRate, [reseller.tenantID, reseller.id, prefix, creditsPerSegment])
    }
}
