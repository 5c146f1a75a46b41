import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// API keys → what they authenticate as, kept in memory so that a request with a known key
/// does not first wait for a connection and a round trip of its own. Correct across daemons
/// because it is only used while this daemon's `KeyCacheListener` is listening: every change
/// that affects authentication notifies `creditdesk_auth` when it commits (triggers, see
/// sql/0014_auth_notify.sql), and a notification, a lost listening session or a restart drops
/// every entry. Without a listener (tests driving a bare router, the listener reconnecting)
/// each request reads the database, as before. docs/ARCHITECTURE.md "The key cache".
package final class KeyCache: @unchecked Sendable {
    /// An entry is read again after this long even without a notification: a bound on what a
    /// silently dead listening session could miss, and how often `last_used_at` is refreshed.
    package static let timeToLive: Duration = .seconds(30)
    /// Past this many keys the cache starts over (a key costs ~200 bytes).
    package static let capacity = 20_000

    private struct Entry {
        let key: AuthenticatedKey
        let expires: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var entries: [[UInt8]: Entry] = [:]
    /// Bumped by every invalidation: a lookup that started before one does not store its result.
    private var generation: UInt64 = 0
    private var listening = false
    private var hits = 0
    private var sessions = 0

    package init() {}

    package var isListening: Bool { lock.withLock { listening } }
    /// Answers from memory so far, and listening sessions opened.
    package var statistics: (hits: Int, sessions: Int) { lock.withLock { (hits, sessions) } }

    /// The key's principal, from memory when the listener vouches for it, else from the
    /// database; nil for an unknown, revoked or disabled key (never cached).
    package func authenticate(secret: String, pool: DatabasePool) async throws -> AuthenticatedKey? {
        guard let hash = UserStore.keyHash(secret) else { return nil }
        let now = ContinuousClock.now
        let (cached, generation) = lock.withLock { () -> (AuthenticatedKey?, UInt64?) in
            guard listening else { return (nil, nil) }
            // An entry lives its time to live, but never past the key's own expiry.
            if let entry = entries[hash], entry.expires > now, entry.key.limits.expiresAt.map({ $0 > Date() }) ?? true {
                hits += 1
                return (entry.key, nil)
            }
            return (nil, self.generation)
        }
        Telemetry.keyLookup(hit: cached != nil)
        if let cached { return cached }
        let found = try await pool.withConnection { try UserStore.authenticate($0, keyHash: hash) }
        if let found, let generation {
            lock.withLock {
                guard listening, self.generation == generation else { return }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
                entries[hash] = Entry(key: found, expires: now + Self.timeToLive)
            }
        }
        return found
    }

    /// Something that authentication depends on changed (or may have): forget everything.
    package func invalidate() {
        lock.withLock {
            generation &+= 1
            entries.removeAll(keepingCapacity: true)
        }
    }

    /// Whether a listening session vouches for the entries; either way, they start over.
    func setListening(_ isListening: Bool) {
        lock.withLock {
            listening = isListening
            if isListening { sessions += 1 }
            generation &+= 1
            entries.removeAll()
        }
    }

    package static let channel = "creditdesk_auth"
}

/// Keeps one session LISTENing on `creditdesk_auth` for the daemon's life, on a thread of its
/// own (a blocking poll), and drops the key cache on every notification. A lost session turns
/// the cache off until a new one listens (reconnecting every second); a quiet session is
/// checked with a `SELECT 1` every few seconds, so a dead one is noticed within them.
package struct KeyCacheListener: Service {
    let cache: KeyCache
    let connection: ConnectionSettings
    let logger: Logger
    /// How long one wait for a notification lasts: the most a notification can wait to be read.
    static let waitMilliseconds: Int32 = 100
    static let probeInterval: Duration = .seconds(5)

    package init(cache: KeyCache, connection: ConnectionSettings, logger: Logger) {
        self.cache = cache
        var settings = connection
        settings.applicationName = "creditdesk-key-cache"
        self.connection = settings
        self.logger = logger
    }

    package func run() async throws {
        let stop = StopFlag()
        let done = StopFlag()
        let thread = Thread { [self] in
            listen(until: stop)
            done.set()
        }
        thread.name = "creditdesk-key-cache"
        thread.stackSize = 256 * 1024
        thread.start()
        await withTaskCancellationHandler {
            try? await gracefulShutdown()
        } onCancel: {
            stop.set()
        }
        stop.set()
        while !done.isSet { try? await Task.sleep(for: .milliseconds(20)) }
    }

    func listen(until stop: StopFlag) {
        while !stop.isSet {
            do {
                let session = try PostgresConnection(settings: connection)
                try session.listen(KeyCache.channel)
                cache.setListening(true)
                logger.info("key cache: listening for authentication changes")
                var probed = ContinuousClock.now
                while !stop.isSet {
                    if try !session.notifications(waitMilliseconds: Self.waitMilliseconds).isEmpty { cache.invalidate() }
                    if ContinuousClock.now - probed > Self.probeInterval {
                        try session.execute("SELECT 1")
                        probed = ContinuousClock.now
                    }
                }
            } catch {
                cache.setListening(false)
                logger.warning("key cache: off until the listener reconnects", metadata: ["error": "\(error)"])
                for _ in 0..<10 where !stop.isSet { Thread.sleep(forTimeInterval: 0.1) }
            }
        }
        cache.setListening(false)
    }
}

/// A flag set once, read from any thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
