import Foundation

/// A counting semaphore for tasks: at most `count` holders, the others waiting in arrival
/// order, each for no longer than its deadline. The count can change while held: lowered, the
/// holders above it finish without being replaced; raised, waiters are let in.
final class AsyncPermits: @unchecked Sendable {
    private let lock = NSLock()
    private var count: Int
    private var held = 0
    private var waiters: [(ticket: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextTicket = 0

    init(count: Int) { self.count = count }

    /// Holders and waiters now, and the count they share.
    var load: (held: Int, waiting: Int, count: Int) { lock.withLock { (held, waiters.count, count) } }

    /// True once a permit is held (give it back with `release`); false if none came by
    /// `deadline` (nil: wait as long as it takes).
    func acquire(until deadline: ContinuousClock.Instant? = nil) async -> Bool {
        await withCheckedContinuation { continuation in
            let ticket: Int? = lock.withLock {
                if held < count, waiters.isEmpty {
                    held += 1
                    return nil
                }
                nextTicket += 1
                waiters.append((nextTicket, continuation))
                return nextTicket
            }
            guard let ticket else { return continuation.resume(returning: true) }
            if let deadline {
                Task {
                    try? await Task.sleep(until: deadline)
                    self.expire(ticket)
                }
            }
        }
    }

    func release() {
        let next: CheckedContinuation<Bool, Never>? = lock.withLock {
            held -= 1
            return admitNext()
        }
        next?.resume(returning: true)
    }

    func setCount(_ newCount: Int) {
        var admitted: [CheckedContinuation<Bool, Never>] = []
        lock.withLock {
            count = newCount
            while let next = admitNext() { admitted.append(next) }
        }
        admitted.forEach { $0.resume(returning: true) }
    }

    /// The first waiter, now holding a permit, if one is free. Called with the lock held.
    private func admitNext() -> CheckedContinuation<Bool, Never>? {
        guard held < count, !waiters.isEmpty else { return nil }
        held += 1
        return waiters.removeFirst().continuation
    }

    private func expire(_ ticket: Int) {
        let expired: CheckedContinuation<Bool, Never>? = lock.withLock {
            guard let index = waiters.firstIndex(where: { $0.ticket == ticket }) else { return nil }
            return waiters.remove(at: index).continuation
        }
        expired?.resume(returning: false)
    }
}
