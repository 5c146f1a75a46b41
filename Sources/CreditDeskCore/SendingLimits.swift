import Foundation

/// How hard a gateway connection may be driven: what its SMSC contract allows. Held across
/// every daemon; see docs/ARCHITECTURE.md, "Sending".
package struct GatewayLimits: Sendable, Equatable {
    /// Submissions on the wire at once.
    package var maxConcurrency: Int
    /// Submissions started per second; nil for no limit.
    package var maxMessagesPerSecond: Int?

    package static let concurrencyRange = 1...256
    package static let rateRange = 1...10_000
    /// What a connection gets when nobody says: the dispatcher's sender threads, no rate limit.
    package static let `default` = GatewayLimits(maxConcurrency: 16, maxMessagesPerSecond: nil)

    package init(maxConcurrency: Int, maxMessagesPerSecond: Int?) {
        self.maxConcurrency = maxConcurrency
        self.maxMessagesPerSecond = maxMessagesPerSecond
    }

    /// The limits as a request states them (nil concurrency: the default), or an
    /// `invalid_parameter` naming the field.
    package static func validated(maxConcurrency: Int64?, maxMessagesPerSecond: Int64?) throws -> GatewayLimits {
        let concurrency = maxConcurrency ?? Int64(Self.default.maxConcurrency)
        guard concurrencyRange.contains(Int(clamping: concurrency)) else {
            throw DomainError.invalid("max_concurrency", "must be between 1 and 256")
        }
        if let rate = maxMessagesPerSecond, !rateRange.contains(Int(clamping: rate)) {
            throw DomainError.invalid("max_messages_per_second", "must be between 1 and 10000, or absent for no limit")
        }
        return GatewayLimits(maxConcurrency: Int(concurrency), maxMessagesPerSecond: maxMessagesPerSecond.map { Int($0) })
    }

    /// The most tokens a rate-limited bucket keeps, and the most a daemon takes at once: a
    /// twentieth of a second's worth (at least one). A pause is then not followed by a burst,
    /// and tokens held by a daemon but not yet used add at most 5 % over any second.
    package var grantTokens: Int { maxMessagesPerSecond.map { max(1, $0 / 20) } ?? 1 }

    /// Takes up to `want` tokens from a bucket that held `tokens` as of `refilledAt`: first what
    /// the time since earned at the limit's rate (the bucket holds at most `grantTokens`), then
    /// whole tokens. A clock that reads earlier than `refilledAt` (another daemon's) earns
    /// nothing. Without a rate limit everything asked for is granted.
    package func take(want: Int, fromBucketOf tokens: Double, refilledAt: Date, now: Date) -> SendTokenGrant {
        guard let rate = maxMessagesPerSecond.map(Double.init) else {
            return SendTokenGrant(granted: want, tokensLeft: tokens, refilledAt: refilledAt, waitSeconds: 0)
        }
        let elapsed = max(0, now.timeIntervalSince(refilledAt))
        let available = min(Double(grantTokens), tokens + elapsed * rate)
        let granted = min(want, Int(available.rounded(.down)))
        let left = max(0, available - Double(granted))
        let wait = granted > 0 ? 0 : (1 - available) / rate
        return SendTokenGrant(granted: granted, tokensLeft: left, refilledAt: max(now, refilledAt), waitSeconds: wait)
    }

    /// This dispatcher's part of the concurrency limit when `members` (the live dispatchers, in
    /// any order) share it: the limit divided evenly, the remainder to the first ones in id
    /// order, so the parts add up to the limit exactly. Zero when this one is not a member yet,
    /// or when there are more dispatchers than the limit and it is not among the first.
    package func concurrencyShare(of member: UUID, among members: [UUID]) -> Int {
        let ordered = Set(members).sorted { $0.uuidString < $1.uuidString }
        guard let index = ordered.firstIndex(of: member) else { return 0 }
        let (each, remainder) = maxConcurrency.quotientAndRemainder(dividingBy: ordered.count)
        return each + (index < remainder ? 1 : 0)
    }
}

/// What a daemon took from a connection's token bucket.
package struct SendTokenGrant: Sendable, Equatable {
    /// Submissions it may start now.
    package var granted: Int
    /// What the bucket keeps, as of `refilledAt`.
    package var tokensLeft: Double
    package var refilledAt: Date
    /// When nothing was granted: how long until a token is earned.
    package var waitSeconds: Double
}

/// How long a gateway that answered "throttled" (Kannel 503, Twilio 429) is left alone: half a
/// second, doubled on each further throttle up to 30 s, back to nothing on a success.
package struct ThrottleBackoff: Sendable, Equatable {
    package private(set) var consecutive = 0

    package init() {}

    /// Notes a throttled answer; returns the pause, in seconds, before the next submission.
    package mutating func throttled() -> Double {
        consecutive += 1
        return min(30, 0.5 * Double(1 << min(consecutive - 1, 6)))
    }

    package mutating func succeeded() { consecutive = 0 }
}
