import Foundation

/// Spend and velocity caps of a client account, set by an account above it: credits per day
/// and per month per unit (days and months cut in `timeZone`), messages per minute, and the
/// destinations it may send to (calling codes; nil for anywhere). A nil limit is no limit.
package struct SpendingCaps: Sendable, Equatable {
    package var timeZone: String
    package var creditsPerDay: [CreditUnit: Int64]
    package var creditsPerMonth: [CreditUnit: Int64]
    package var messagesPerMinute: Int64?
    package var allowedCountries: [String]?

    package static let none = SpendingCaps(
        timeZone: "UTC", creditsPerDay: [:], creditsPerMonth: [:], messagesPerMinute: nil, allowedCountries: nil)

    package init(
        timeZone: String, creditsPerDay: [CreditUnit: Int64], creditsPerMonth: [CreditUnit: Int64],
        messagesPerMinute: Int64?, allowedCountries: [String]?
    ) {
        self.timeZone = timeZone
        self.creditsPerDay = creditsPerDay
        self.creditsPerMonth = creditsPerMonth
        self.messagesPerMinute = messagesPerMinute
        self.allowedCountries = allowedCountries
    }

    /// Checks what a request sets: a known time zone, limits within range, calling codes.
    package func validated() throws(DomainError) -> SpendingCaps {
        guard TimeZone(identifier: timeZone) != nil else { throw DomainError.invalid("time_zone", "is not an IANA time zone") }
        for (name, limits) in [("per_day", creditsPerDay), ("per_month", creditsPerMonth)] {
            for (unit, limit) in limits where !(0...Limits.maxAmount).contains(limit) {
                throw DomainError.invalid("\(unit.rawValue)_\(name)", "must be between 0 and \(Limits.maxAmount)")
            }
        }
        if let messagesPerMinute, !(0...1_000_000).contains(messagesPerMinute) {
            throw DomainError.invalid("messages_per_minute", "must be between 0 and 1000000")
        }
        if let allowedCountries {
            guard allowedCountries.count <= 300 else { throw DomainError.invalid("allowed_countries", "at most 300 codes") }
            for (index, code) in allowedCountries.enumerated() where code.wholeMatch(of: /[1-9][0-9]{0,3}/) == nil {
                throw DomainError.invalid("allowed_countries[\(index)]", "must be a calling code such as 64 or 1")
            }
        }
        var caps = self
        caps.allowedCountries = allowedCountries.map { Array(Set($0)).sorted() }
        return caps
    }

    /// Whether a number (E.164 digits, no `+`) is a destination these caps allow.
    package func allows(destinationDigits digits: String) -> Bool {
        allowedCountries.map { codes in codes.contains { digits.hasPrefix($0) } } ?? true
    }
}

/// The windows caps count in: a day and a month in the caps' time zone, a minute in UTC.
package enum CapWindow: String, Sendable, CaseIterable {
    case day, month, minute

    /// The window's start and the next one's (when a cap resets), around `now`.
    package func bounds(at now: Date, timeZone identifier: String) -> (start: Date, end: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = self == .minute ? TimeZone(identifier: "UTC")! : TimeZone(identifier: identifier) ?? TimeZone(identifier: "UTC")!
        let component: Calendar.Component = self == .day ? .day : self == .month ? .month : .minute
        let interval = calendar.dateInterval(of: component, for: now)!
        return (interval.start, interval.end)
    }

    /// How long a window's count is kept after it started: past that no cap reads it (a day
    /// in any time zone is over within 40 days). Nil: kept (months, twelve rows a year).
    package var keptSeconds: Double? {
        switch self {
        case .minute: 3_600
        case .day: 40 * 86_400
        case .month: nil
        }
    }
}

/// A cap a request would break, for the refusal's details.
package struct CapBreach: Sendable, Equatable {
    package let cap: String
    package let limit: Int64
    package let used: Int64
    package let requested: Int64
    package let resetsAt: Date?

    package init(cap: String, limit: Int64, used: Int64, requested: Int64, resetsAt: Date?) {
        self.cap = cap
        self.limit = limit
        self.used = used
        self.requested = requested
        self.resetsAt = resetsAt
    }

    /// `429 rate_limited` for the per-minute cap (wait and retry), `403 cap_exceeded` otherwise.
    package var error: DomainError {
        var details: [String: DomainError.Detail] = [
            "cap": .string(cap), "limit": .int(limit), "used": .int(used), "requested": .int(requested),
        ]
        if let resetsAt { details["resets_at"] = .string(ISO8601.format(resetsAt)) }
        let code: DomainError.Code = cap == "messages_per_minute" ? .rateLimited : .capExceeded
        return DomainError(code, "this would exceed the account's \(cap.replacingOccurrences(of: "_", with: " ")) cap (\(used) of \(limit) used)", details: details)
    }
}
