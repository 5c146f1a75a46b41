@testable import CreditDeskCore
import Foundation
import Testing

@Suite("Gateway sending limits")
struct SendingLimitsTests {
    @Test("limits are validated with the field named; absent concurrency is the default")
    func validation() throws {
        #expect(try GatewayLimits.validated(maxConcurrency: nil, maxMessagesPerSecond: nil) == .default)
        #expect(try GatewayLimits.validated(maxConcurrency: 1, maxMessagesPerSecond: 10_000).maxMessagesPerSecond == 10_000)
        for (concurrency, rate, field) in [
            (Int64(0), Int64?.none, "max_concurrency"), (257, nil, "max_concurrency"), (Int64.max, nil, "max_concurrency"),
            (4, 0, "max_messages_per_second"), (4, 10_001, "max_messages_per_second"), (4, -1, "max_messages_per_second"),
        ] {
            do {
                _ = try GatewayLimits.validated(maxConcurrency: concurrency, maxMessagesPerSecond: rate)
                Issue.record("\(concurrency), \(String(describing: rate)) accepted")
            } catch let error as DomainError {
                #expect(error.code == .invalidRequest)
                #expect(error.details["field"] == .string(field))
            }
        }
    }

    @Test("the shares of a concurrency limit add up to it exactly, and a non-member gets none")
    func shares() {
        for limit in [1, 2, 5, 16, 256] {
            for count in 1...7 {
                let members = (0..<count).map { _ in UUID() }
                let limits = GatewayLimits(maxConcurrency: limit, maxMessagesPerSecond: nil)
                let shares = members.map { limits.concurrencyShare(of: $0, among: members.shuffled()) }
                #expect(shares.reduce(0, +) == limit)
                #expect(shares.max()! - shares.min()! <= 1)
                #expect(limits.concurrencyShare(of: UUID(), among: members) == 0)
            }
        }
    }

    @Test("the bucket earns at the rate, keeps at most a twentieth of a second's worth, grants whole tokens")
    func bucket() {
        let limits = GatewayLimits(maxConcurrency: 4, maxMessagesPerSecond: 200)
        #expect(limits.grantTokens == 10)
        let start = Date(timeIntervalSince1970: 1_000)
        // Full: 10 granted of 25 wanted; nothing left.
        let first = limits.take(want: 25, fromBucketOf: 10, refilledAt: start, now: start)
        #expect(first.granted == 10 && first.tokensLeft == 0 && first.waitSeconds == 0)
        // 12.5 ms later 2.5 tokens were earned: 2 granted, half a token kept.
        let later = start.addingTimeInterval(0.0125)
        let second = limits.take(want: 25, fromBucketOf: 0, refilledAt: start, now: later)
        #expect(second.granted == 2)
        #expect(abs(second.tokensLeft - 0.5) < 1e-3, "Date keeps about a tenth of a microsecond")
        #expect(second.refilledAt == later)
        // Empty: nothing granted, and the wait is until one token is earned.
        let empty = limits.take(want: 1, fromBucketOf: 0.5, refilledAt: later, now: later)
        #expect(empty.granted == 0 && abs(empty.waitSeconds - 0.0025) < 1e-6)
        // A long pause does not bank more than the burst.
        #expect(limits.take(want: 100, fromBucketOf: 0, refilledAt: start, now: start.addingTimeInterval(60)).granted == 10)
        // Another daemon's clock behind ours earns nothing and never moves the refill time back.
        let behind = limits.take(want: 5, fromBucketOf: 0, refilledAt: later, now: start)
        #expect(behind.granted == 0 && behind.refilledAt == later)
        // Without a rate limit everything is granted.
        #expect(GatewayLimits.default.take(want: 7, fromBucketOf: 0, refilledAt: start, now: start).granted == 7)
        // A slow limit still grants one at a time.
        #expect(GatewayLimits(maxConcurrency: 1, maxMessagesPerSecond: 3).grantTokens == 1)
    }

    @Test("a throttling gateway is left alone longer each time, up to 30 s, and not after a success")
    func throttleBackoff() {
        var backoff = ThrottleBackoff()
        #expect((1...9).map { _ in backoff.throttled() } == [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
        backoff.succeeded()
        #expect(backoff.throttled() == 0.5)
    }
}
