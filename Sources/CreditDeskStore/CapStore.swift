import CreditDeskCore
import CreditDeskDB
import Foundation

/// Spend and velocity caps and their windows' counts (sql/0018_spending_caps.sql).
package enum CapStore {
    static let selectCaps = """
        SELECT time_zone, sms_per_day, sms_per_month, mms_per_day, mms_per_month, messages_per_minute,
               array_to_string(allowed_countries, ',') AS allowed_countries, allowed_countries IS NULL AS anywhere
        FROM spending_caps WHERE account_id = $1
        """
    static let upsertCaps = """
        INSERT INTO spending_caps (tenant_id, account_id, time_zone, sms_per_day, sms_per_month, mms_per_day,
            mms_per_month, messages_per_minute, allowed_countries)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[])
        ON CONFLICT (tenant_id, account_id) DO UPDATE SET time_zone = excluded.time_zone,
            sms_per_day = excluded.sms_per_day, sms_per_month = excluded.sms_per_month,
            mms_per_day = excluded.mms_per_day, mms_per_month = excluded.mms_per_month,
            messages_per_minute = excluded.messages_per_minute, allowed_countries = excluded.allowed_countries,
            updated_at = now()
        """
    static let deleteCaps = "DELETE FROM spending_caps WHERE tenant_id = $1 AND account_id = $2"
    /// Adds $6 to the window's count if the total stays within $7; no row answered: it would not.
    static let consume = """
        INSERT INTO cap_usage AS u (tenant_id, account_id, window_kind, counter, starts_at, used)
        SELECT $1, $2, $3, $4, $5, $6 WHERE $6 <= $7
        ON CONFLICT (tenant_id, account_id, window_kind, counter, starts_at)
        DO UPDATE SET used = u.used + excluded.used WHERE u.used + excluded.used <= $7
        RETURNING used
        """
    static let selectUsed = """
        SELECT coalesce(sum(used), 0) AS used FROM cap_usage
        WHERE tenant_id = $1 AND account_id = $2 AND window_kind = $3 AND counter = $4 AND starts_at = $5
        """

    /// Deletes up to $3 rows of windows of kind $1 that started before $2.
    static let pruneWindows = """
        DELETE FROM cap_usage WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM cap_usage WHERE window_kind = $1 AND starts_at < $2 LIMIT $3))
        """

    /// Deletes the rows of `window`s that started before `before`, at most `limit` of them
    /// (a bounded transaction; the next round takes the rest); answers how many went.
    package static func prune(_ connection: PostgresConnection, window: CapWindow, before: Date, limit: Int) throws -> Int {
        try connection.execute(pruneWindows, [window.rawValue, before, Int64(limit)]).affectedRows
    }

    package static func caps(_ connection: PostgresConnection, accountID: UUID) throws -> SpendingCaps? {
        guard let row = try connection.execute(selectCaps, [accountID]).first else { return nil }
        var perDay: [CreditUnit: Int64] = [:], perMonth: [CreditUnit: Int64] = [:]
        for unit in CreditUnit.allCases {
            perDay[unit] = try row.decode(Int64?.self, "\(unit.rawValue)_per_day")
            perMonth[unit] = try row.decode(Int64?.self, "\(unit.rawValue)_per_month")
        }
        let countries = (try row.decode(String?.self, "allowed_countries") ?? "").split(separator: ",").map(String.init)
        return SpendingCaps(
            timeZone: try row.decode(String.self, "time_zone"), creditsPerDay: perDay, creditsPerMonth: perMonth,
            messagesPerMinute: try row.decode(Int64?.self, "messages_per_minute"),
            allowedCountries: try row.decode(Bool.self, "anywhere") ? nil : countries)
    }

    /// Sets the account's caps; nil removes them all.
    package static func setCaps(_ connection: PostgresConnection, account: AccountRecord, _ caps: SpendingCaps?) throws {
        guard let caps else {
            try connection.execute(deleteCaps, [account.tenantID, account.id])
            return
        }
        try connection.execute(
            upsertCaps,
            [
                account.tenantID, account.id, caps.timeZone, caps.creditsPerDay[.sms], caps.creditsPerMonth[.sms],
                caps.creditsPerDay[.mms], caps.creditsPerMonth[.mms], caps.messagesPerMinute,
                caps.allowedCountries.map { arrayLiteral($0) },
            ])
    }

    /// Counts `amount` in the window if it stays within `limit`; false (nothing counted) if not.
    package static func consume(
        _ connection: PostgresConnection, account: AccountRecord, window: CapWindow, counter: String, startsAt: Date,
        amount: Int64, limit: Int64
    ) throws -> Bool {
        try connection.execute(
            consume, [account.tenantID, account.id, window.rawValue, counter, startsAt, amount, limit]
        ).first != nil
    }

    package static func used(
        _ connection: PostgresConnection, account: AccountRecord, window: CapWindow, counter: String, startsAt: Date
    ) throws -> Int64 {
        try connection.execute(selectUsed, [account.tenantID, account.id, window.rawValue, counter, startsAt]).single()
            .decode(Int64.self, "used")
    }
}
