import Foundation

/// What a low-balance alert's line is measured in: credits available, or days those credits
/// last at the last 7 days' consumption.
package enum BalanceMeasure: String, Sendable, CaseIterable {
    case credits, days

    /// How a line reads in a notice: "below 500 credits", "below 7 days" (the trigger on
    /// `balances` writes the credits one in the same words).
    package func threshold(below: Int64) -> String { "below \(below) \(rawValue)" }
}

/// A low-balance alert on one balance: below `below` (credits or days) it alerts once, by email
/// to the account's admins (and its parent's with `notifyParent`) and to its webhooks; it
/// re-arms when the balance is back at or above the line.
package struct BalanceAlertRule: Sendable, Equatable {
    package var unit: CreditUnit
    package var measure: BalanceMeasure
    package var below: Int64
    package var notifyParent: Bool

    package init(unit: CreditUnit, measure: BalanceMeasure, below: Int64, notifyParent: Bool) {
        self.unit = unit
        self.measure = measure
        self.below = below
        self.notifyParent = notifyParent
    }

    package func validated() throws(DomainError) -> BalanceAlertRule {
        guard (1...Limits.maxAmount).contains(below) else { throw .invalid("below", "must be between 1 and \(Limits.maxAmount)") }
        return self
    }
}

/// An automatic top-up of a client from its parent's pool: when available falls below
/// `below`, `amount` is transferred, at most `maxCreditsPerDay` and `maxCreditsPerMonth` (UTC).
package struct AutoTopUpRule: Sendable, Equatable {
    package var unit: CreditUnit
    package var below: Int64
    package var amount: Int64
    package var maxCreditsPerDay: Int64?
    package var maxCreditsPerMonth: Int64?

    package init(unit: CreditUnit, below: Int64, amount: Int64, maxCreditsPerDay: Int64?, maxCreditsPerMonth: Int64?) {
        self.unit = unit
        self.below = below
        self.amount = amount
        self.maxCreditsPerDay = maxCreditsPerDay
        self.maxCreditsPerMonth = maxCreditsPerMonth
    }

    package func validated() throws(DomainError) -> AutoTopUpRule {
        for (field, value) in [("below", below), ("amount", amount)] where !(1...Limits.maxAmount).contains(value) {
            throw .invalid(field, "must be between 1 and \(Limits.maxAmount)")
        }
        for (field, value) in [("max_credits_per_day", maxCreditsPerDay), ("max_credits_per_month", maxCreditsPerMonth)] {
            if let value, !(1...Limits.maxAmount).contains(value) {
                throw .invalid(field, "must be between 1 and \(Limits.maxAmount)")
            }
        }
        return self
    }

    /// What a top-up asked for by a crossing does now: transfer, skip (the balance is back at
    /// or above the line), or fail (a cap would be passed).
    package enum Decision: Sendable, Equatable {
        case transfer(Int64)
        case skip(String)
        case fail(String)
    }

    package func decide(available: Int64, movedToday: Int64, movedThisMonth: Int64) -> Decision {
        if available >= below { return .skip("available is \(available), no longer below \(below)") }
        if let maxCreditsPerDay, movedToday + amount > maxCreditsPerDay {
            return .fail("the daily cap of \(maxCreditsPerDay) credits would be passed (\(movedToday) moved today)")
        }
        if let maxCreditsPerMonth, movedThisMonth + amount > maxCreditsPerMonth {
            return .fail("the monthly cap of \(maxCreditsPerMonth) credits would be passed (\(movedThisMonth) moved this month)")
        }
        return .transfer(amount)
    }
}

package enum DaysLeft {
    /// The days `available` credits last at the rate of `consumedLastWeek` over 7 days; nil when
    /// nothing was consumed (they last for ever).
    package static func days(available: Int64, consumedLastWeek: Int64) -> Double? {
        guard consumedLastWeek > 0 else { return nil }
        return Double(max(available, 0)) / (Double(consumedLastWeek) / 7)
    }
}
