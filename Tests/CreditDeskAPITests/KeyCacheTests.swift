import CreditDeskAPI
import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Two daemons on one database, each with its own pool, key cache and listener: a key
/// revoked, or an account suspended, through one stops working on the other within a second
/// (the requirement), although the other had the key cached.
@Suite("Key cache across daemons")
struct KeyCacheTests {
    struct Daemon {
        let api: API
        let keys: KeyCache
    }

    func withTwoDaemons(_ body: @escaping @Sendable (Daemon, Daemon, Fixture, DatabasePool) async throws -> Void)
        async throws
    {
        try await withTestDatabase(poolSize: 4) { pool in
            let fixture = try await Fixture.make(pool)
            let migrator = try await TestCluster.shared.ready().migrator
            let otherPool = DatabasePool(settings: pool.settings, logger: Logger(label: "second daemon"))
            let (first, second) = (KeyCache(), KeyCache())
            var dependencies = AppDependencies(pool: pool, migrator: migrator)
            dependencies.keys = first
            var secondDependencies = AppDependencies(pool: otherPool, migrator: migrator)
            secondDependencies.keys = second
            let otherDependencies = secondDependencies
            let listeners = [first, second].map { cache in
                Task {
                    try await KeyCacheListener(cache: cache, connection: pool.settings.connection, logger: Logger(label: "test"))
                        .run()
                }
            }
            defer { listeners.forEach { $0.cancel() } }
            while !(first.isListening && second.isListening) { try await Task.sleep(for: .milliseconds(10)) }
            try await Application(router: try buildRouter(dependencies: dependencies)).test(.router) { one in
                try await Application(router: try buildRouter(dependencies: otherDependencies)).test(.router) { two in
                    try await body(
                        Daemon(api: API(client: one), keys: first), Daemon(api: API(client: two), keys: second), fixture, pool)
                }
            }
            for listener in listeners { listener.cancel(); _ = await listener.result }
            await otherPool.shutdown()
        }
    }

    /// Polls `condition` every 10 ms; answers how long it took to hold, or nil if it did not within `limit`.
    func timeUntil(within limit: Duration = .seconds(1), _ condition: () async throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start <= limit {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    @Test("a key revoked on one daemon stops working on the other, which had it cached, within a second")
    func revokedEverywhere() async throws {
        try await withTwoDaemons { one, two, fixture, _ in
            let operatorKey = fixture.keys[.platformOperator]!
            let user = fixture.users[.clientUser]!.lower
            let created = try await one.api.call(.post, "/v1/users/\(user)/keys", key: operatorKey, body: ["label": "till"])
            let newKey = try created.decode(Components.Schemas.NewKey.self)
            let secret = try #require(newKey.secret)
            // Cached on the second daemon: its second request is answered from memory.
            let hitsBefore = two.keys.statistics.hits
            for _ in 0..<2 { #expect(try await two.api.call(.get, "/v1/me", key: secret).status == .ok) }
            #expect(two.keys.statistics.hits > hitsBefore, "\(two.keys.statistics) \(two.keys.isListening)")

            #expect(try await one.api.call(.delete, "/v1/keys/\(newKey.key.id)", key: operatorKey).status == .ok)
            let took = try await timeUntil { try await two.api.call(.get, "/v1/me", key: secret).status == .unauthorized }
            #expect(took != nil, "the revoked key still worked on the other daemon after 1 s")
            #expect(try await one.api.call(.get, "/v1/me", key: secret).status == .unauthorized)
        }
    }

    @Test("a cached key stops at its expiry, without any notification")
    func expiresWhileCached() async throws {
        try await withTwoDaemons { one, two, fixture, _ in
            let operatorKey = fixture.keys[.platformOperator]!
            let user = fixture.users[.clientUser]!.lower
            let expiry = Date().addingTimeInterval(1.5)
            let created = try await one.api.call(
                .post, "/v1/users/\(user)/keys", key: operatorKey, body: ["expires_at": ISO8601.format(expiry)])
            let secret = try #require(try created.decode(Components.Schemas.NewKey.self).secret)
            let hitsBefore = two.keys.statistics.hits
            for _ in 0..<2 { #expect(try await two.api.call(.get, "/v1/me", key: secret).status == .ok) }
            #expect(two.keys.statistics.hits > hitsBefore)
            // Past the expiry (no notification is sent for it), the cached entry no longer answers.
            try await Task.sleep(for: .seconds(max(expiry.timeIntervalSinceNow, 0) + 0.1))
            #expect(try await two.api.call(.get, "/v1/me", key: secret).status == .unauthorized)
        }
    }

    @Test("an account suspended on one daemon is read-only on the other within a second; a disabled user's key stops")
    func suspendedEverywhere() async throws {
        try await withTwoDaemons { one, two, fixture, pool in
            let operatorKey = fixture.keys[.platformOperator]!
            let clientKey = fixture.keys[.clientAdmin]!
            let reserve = { (key: String) in
                try await two.api.call(
                    .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: key, body: ["unit": "sms", "amount": 1])
            }
            // Cached, and writing: refused for want of credits, not for the suspension.
            #expect(try await reserve(clientKey).errorCode == "insufficient_credits")
            let suspend = try await one.api.call(
                .patch, "/v1/accounts/\(fixture.reseller.id.lower)", key: operatorKey, body: ["status": "suspended"])
            #expect(suspend.status == .ok)
            #expect(try await timeUntil { try await reserve(clientKey).errorCode == "account_suspended" } != nil)

            // A user disabled straight in the database (no daemon involved) is noticed too.
            let readonlyKey = fixture.keys[.clientReadonly]!
            #expect(try await two.api.call(.get, "/v1/me", key: readonlyKey).status == .ok)
            try await pool.withTransaction { connection in
                try connection.execute("UPDATE users SET status = 'disabled' WHERE id = $1", [fixture.users[.clientReadonly]!])
            }
            #expect(try await timeUntil { try await two.api.call(.get, "/v1/me", key: readonlyKey).status == .unauthorized } != nil)
        }
    }

    @Test("a listener whose session is killed turns its cache off, reconnects, and keeps up with revocations")
    func listenerReconnects() async throws {
        try await withTwoDaemons { one, two, fixture, pool in
            try await pool.withConnection { connection in
                try connection.execute(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = 'creditdesk-key-cache' AND datname = current_database()
                    """)
            }
            #expect(try await timeUntil(within: .seconds(10)) { !two.keys.isListening || two.keys.statistics.sessions > 1 } != nil)
            #expect(try await timeUntil(within: .seconds(10)) { two.keys.isListening && two.keys.statistics.sessions > 1 } != nil)
            let user = fixture.users[.clientUser]!.lower
            let operatorKey = fixture.keys[.platformOperator]!
            let created = try await one.api.call(.post, "/v1/users/\(user)/keys", key: operatorKey, body: [:])
            let newKey = try created.decode(Components.Schemas.NewKey.self)
            let secret = try #require(newKey.secret)
            for _ in 0..<2 { #expect(try await two.api.call(.get, "/v1/me", key: secret).status == .ok) }
            #expect(try await one.api.call(.delete, "/v1/keys/\(newKey.key.id)", key: operatorKey).status == .ok)
            #expect(try await timeUntil { try await two.api.call(.get, "/v1/me", key: secret).status == .unauthorized } != nil)
        }
    }
}
