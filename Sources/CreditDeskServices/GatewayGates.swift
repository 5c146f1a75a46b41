import CreditDeskCore
import CreditDeskStore
import Foundation

/// What a message waiting to be submitted is told.
enum Admission: Sendable, Equatable {
    /// Submit it now; tell the gate when it is done.
    case go
    /// Not within the batch's time: put it back, due again after this many seconds.
    case later(seconds: Double)
}

/// Admission to one gateway connection, in this daemon: its share of the connection's
/// concurrency limit, submissions paced by tokens from the connection's bucket (shared with
/// every daemon), and a pause after the gateway said "throttled". See docs/ARCHITECTURE.md,
/// "Sending".
final class GatewayGate: @unchecked Sendable {
    private let lock = NSLock()
    private let permits: AsyncPermits
    /// One waiter at a time draws from the bucket, in arrival order.
    private let bucketTurn = AsyncPermits(count: 1)
    private var gateway: GatewayConnectionRecord
    private var tokens = 0
    private var tokensGrantedAt = ContinuousClock.now
    private var pausedUntil = ContinuousClock.now
    private var backoff = ThrottleBackoff()
    private var averageSubmitSeconds = 0.05

    /// Tokens held longer than this unused are dropped: used late, they would add to what the
    /// bucket grants meanwhile and break the rate over that second.
    static let tokenLifetime = Duration.milliseconds(100)

    init(_ gateway: GatewayConnectionRecord, share: Int) {
        self.gateway = gateway
        permits = AsyncPermits(count: share)
    }

    /// The connection as last read (its limits may have changed) and this daemon's share now.
    func update(_ gateway: GatewayConnectionRecord, share: Int) {
        lock.withLock { self.gateway = gateway }
        permits.setCount(share)
    }

    /// How far ahead a message may wait for its turn at a gateway: beyond it, it is put back
    /// in the queue to be due when its turn is expected, so a slow or rate-limited gateway
    /// never holds up a batch's messages for other gateways.
    static let concurrencyHorizon = Duration.seconds(1)
    static let rateHorizon = Duration.milliseconds(250)

    /// Waits until the message may be submitted, or says when to try again if its turn is
    /// further off than the horizons. `takeTokens` draws from the connection's bucket in the
    /// database.
    func admit(takeTokens: @Sendable (GatewayConnectionRecord, Int) async throws -> SendTokenGrant) async -> Admission {
        if let pause = pauseLeft() { return .later(seconds: pause) }
        let gateway = lock.withLock { self.gateway }
        let (held, waiting, share) = permits.load
        let queued = Double(max(0, held + waiting + 1 - share))
        let permitWait = share == 0 ? 1 : queued / Double(share) * lock.withLock { averageSubmitSeconds }
        if permitWait > Self.concurrencyHorizon.seconds { return .later(seconds: permitWait) }
        guard await permits.acquire(until: .now + Self.concurrencyHorizon * 3) else { return .later(seconds: 0.5) }
        if let pause = pauseLeft() {
            permits.release()
            return .later(seconds: pause)
        }
        guard let rate = gateway.limits.maxMessagesPerSecond else { return .go }
        let rateWait = Double(bucketTurn.load.waiting) / Double(rate)
        guard rateWait <= Self.rateHorizon.seconds, await bucketTurn.acquire(until: .now + Self.rateHorizon * 4) else {
            permits.release()
            return .later(seconds: max(rateWait, 1 / Double(rate)))
        }
        defer { bucketTurn.release() }
        while true {
            if takeHeldToken() { return .go }
            let grant: SendTokenGrant
            do {
                grant = try await takeTokens(gateway, gateway.limits.grantTokens)
            } catch {
                permits.release()
                return .later(seconds: 5)
            }
            if grant.granted > 0 {
                hold(grant.granted)
                continue
            }
            if grant.waitSeconds > Self.rateHorizon.seconds {
                permits.release()
                return .later(seconds: grant.waitSeconds)
            }
            try? await Task.sleep(for: .seconds(grant.waitSeconds))
        }
    }

    /// A submission admitted by `admit` has ended with `outcome` after `seconds` on the wire.
    func finished(_ outcome: SubmitOutcome, seconds: Double) {
        permits.release()
        lock.withLock {
            // A moving average of the time on the wire, to foresee waits for a permit.
            averageSubmitSeconds = 0.9 * averageSubmitSeconds + 0.1 * seconds
            switch outcome {
            case .throttled: pausedUntil = .now + .seconds(backoff.throttled())
            case .answered: backoff.succeeded()
            case .noAnswer: break
            }
        }
    }

    enum SubmitOutcome { case answered, throttled, noAnswer }

    private func pauseLeft() -> Double? {
        let pause = lock.withLock { pausedUntil - .now }
        return pause > .zero ? pause.seconds : nil
    }

    private func takeHeldToken() -> Bool {
        lock.withLock {
            if tokens > 0, ContinuousClock.now - tokensGrantedAt > Self.tokenLifetime { tokens = 0 }
            guard tokens > 0 else { return false }
            tokens -= 1
            return true
        }
    }

    private func hold(_ granted: Int) {
        lock.withLock {
            tokens = granted
            tokensGrantedAt = .now
        }
    }
}

/// The gates of the connections this daemon has sent through.
final class GatewayGates: @unchecked Sendable {
    private let lock = NSLock()
    private var gates: [UUID: GatewayGate] = [:]

    /// The connection's gate, brought up to date with its record and this daemon's share.
    func gate(for gateway: GatewayConnectionRecord, share: Int) -> GatewayGate {
        let (gate, isNew) = lock.withLock {
            if let gate = gates[gateway.id] { return (gate, false) }
            let gate = GatewayGate(gateway, share: share)
            gates[gateway.id] = gate
            return (gate, true)
        }
        if !isNew { gate.update(gateway, share: share) }
        return gate
    }
}

/// This daemon's dispatcher among the live ones, for its share of each connection's
/// concurrency limit (`GatewayLimits.concurrencyShare`). A newcomer takes no share until every
/// other dispatcher has noticed it (and so shrunk its own); a dispatcher alone takes the whole
/// limit; one that could not report itself alive lately takes none (the others may have
/// counted it gone).
final class DispatcherMembership: @unchecked Sendable {
    let id = UUID()
    private let lock = NSLock()
    private var members: [UUID] = []
    private var noticed = false
    private var lastBeat: ContinuousClock.Instant?

    /// How often a dispatcher reports itself alive.
    static let beatInterval = Duration.seconds(1)

    func record(_ alive: [(id: UUID, knowsIt: Bool)]) {
        lock.withLock {
            members = alive.map(\.id)
            noticed = alive.allSatisfy { $0.id == id || $0.knowsIt }
            lastBeat = .now
        }
    }

    func share(of limits: GatewayLimits) -> Int {
        lock.withLock {
            guard let lastBeat, ContinuousClock.now - lastBeat < .seconds(DispatcherStore.aliveSeconds - 2) else { return 0 }
            if members.allSatisfy({ $0 == id }) { return limits.maxConcurrency }
            return noticed ? limits.concurrencyShare(of: id, among: members) : 0
        }
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
