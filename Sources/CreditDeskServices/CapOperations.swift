import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Spend and velocity caps: set by an account above a client, enforced where messages take
/// credits (a send, a test dispatch, a campaign's confirmation) before anything is reserved.
package enum CapOperations {
    /// A cap, its window and what it has used now.
    package struct Usage: Sendable, Equatable {
        package let cap: String
        package let limit: Int64
        package let used: Int64
        package let resetsAt: Date
    }

    /// The client's caps (nil: none) and each set cap's use in its current window.
    package static func caps(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, now: Date = Date()
    ) throws -> (SpendingCaps?, [Usage]) {
        let account = try Operations.account(connection, principal, accountID, for: .read)
        guard let caps = try CapStore.caps(connection, accountID: account.id) else { return (nil, []) }
        return (caps, try limits(caps, now: now).map { limit in
            Usage(
                cap: limit.cap, limit: limit.limit,
                used: try CapStore.used(
                    connection, account: account, window: limit.window, counter: limit.counter, startsAt: limit.start),
                resetsAt: limit.end)
        })
    }

    /// Replaces a client's caps (nil removes them); an account above it sets them.
    package static func setCaps(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        caps: SpendingCaps?
    ) throws -> SpendingCaps? {
        let loaded = try Operations.account(connection, principal, accountID, for: .manageCredits)
        guard loaded.kind == .client else { throw DomainError.wrongKind("account", "caps belong to client accounts") }
        let caps = try caps?.validated()
        let account = try Operations.lockedForAudit(connection, loaded)
        let before = try CapStore.caps(connection, accountID: account.id)
        try CapStore.setCaps(connection, account: account, caps)
        try AuditStore.appendChanges(
            connection, context, account: account, .capsChanged, objectID: account.id.lower, before: fields(before),
            after: fields(caps))
        return caps
    }

    /// Counts a send of `credits` in `unit` (and `messages` messages, `perMinute` false for a
    /// campaign, which the gateways' limits pace) against the account's `caps` (as
    /// `CapStore.caps` read them), or refuses it: `cap_exceeded` (a day's or a month's credits)
    /// or `rate_limited` (messages per minute). Runs in the send's transaction, before it reserves:
    /// a refusal leaves nothing behind, and a later failure takes the counts back with it.
    package static func consume(
        _ connection: PostgresConnection, account: AccountRecord, caps: SpendingCaps?, unit: CreditUnit, credits: Int64,
        messages: Int64, perMinute: Bool = true, now: Date = Date()
    ) throws {
        guard let caps else { return }
        for limit in try limits(caps, now: now) where limit.counter == unit.rawValue || (perMinute && limit.counter == "messages") {
            let amount = limit.counter == "messages" ? messages : credits
            guard
                try !CapStore.consume(
                    connection, account: account, window: limit.window, counter: limit.counter, startsAt: limit.start,
                    amount: amount, limit: limit.limit)
            else { continue }
            let used = try CapStore.used(connection, account: account, window: limit.window, counter: limit.counter, startsAt: limit.start)
            throw CapBreach(cap: limit.cap, limit: limit.limit, used: used, requested: amount, resetsAt: limit.end).error
        }
    }

    /// Refuses a destination outside the caps' allow-list (`cap_exceeded`), before a message is
    /// priced: where it may not go, what it would cost does not matter.
    package static func checkDestinations(_ caps: SpendingCaps?, _ destinations: [Substring]) throws {
        guard let caps, let outside = destinations.first(where: { !caps.allows(destinationDigits: String($0)) }) else {
            return
        }
        throw DomainError(
            .capExceeded, "+\(outside) is outside the destinations this account may send to",
            details: ["cap": .string("allowed_countries"), "to": .string("+\(outside)")])
    }

    struct Limit {
        let cap: String
        let window: CapWindow
        let counter: String
        let limit: Int64
        let start: Date
        let end: Date
    }

    /// Every set cap with its current window: the minute first (a 429 to retry), then days, then months.
    static func limits(_ caps: SpendingCaps, now: Date) throws -> [Limit] {
        var limits: [Limit] = []
        func add(_ cap: String, _ window: CapWindow, _ counter: String, _ value: Int64?) {
            guard let value else { return }
            let (start, end) = window.bounds(at: now, timeZone: caps.timeZone)
            limits.append(Limit(cap: cap, window: window, counter: counter, limit: value, start: start, end: end))
        }
        add("messages_per_minute", .minute, "messages", caps.messagesPerMinute)
        for unit in CreditUnit.allCases { add("\(unit.rawValue)_per_day", .day, unit.rawValue, caps.creditsPerDay[unit]) }
        for unit in CreditUnit.allCases { add("\(unit.rawValue)_per_month", .month, unit.rawValue, caps.creditsPerMonth[unit]) }
        return limits
    }

    static func fields(_ caps: SpendingCaps?) -> [String: AuditValue?] {
        guard let caps else { return [:] }
        var fields: [String: AuditValue?] = [
            "time_zone": .text(caps.timeZone), "messages_per_minute": caps.messagesPerMinute.map(AuditValue.number),
            "allowed_countries": caps.allowedCountries.map(AuditValue.list),
        ]
        for unit in CreditUnit.allCases {
            fields["\(unit.rawValue)_per_day"] = caps.creditsPerDay[unit].map(AuditValue.number)
            fields["\(unit.rawValue)_per_month"] = caps.creditsPerMonth[unit].map(AuditValue.number)
        }
        return fields
    }
}
