import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Logging
import Testing

/// Spend and velocity caps at the send path, on the real database, at fixed instants (so a
/// window never turns over mid-test): boundaries, the time zone's day cut, races at the last unit.
@Suite("Spend and velocity caps")
struct CapTests {
    struct World: Sendable {
        let root: Principal
        let client: AccountRecord
    }

    /// A client with a gateway and 1,000 SMS credits, and the given caps.
    func withClient(_ caps: SpendingCaps, _ body: @escaping @Sendable (DatabasePool, World) async throws -> Void) async throws {
        try await withTestDatabase(poolSize: 8) { pool in
            let box = try SecretBox(encodedKey: SecretBox.generateKey())
            let world = try await pool.withTransaction { connection in
                let gateway = try clientWithGateway(connection, box: box)
                let platform = try #require(try AccountStore.platform(connection))
                let user = try #require(try UserStore.users(connection, accountID: platform.id).first)
                let root = Principal(
                    userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
                let client = try #require(try AccountStore.find(connection, id: gateway.accountID))
                let context = OperationContext(actorUserID: user.id, requestID: "test")
                let reseller = try #require(client.parentID)
                _ = try Operations.applyTransfer(
                    connection, root, context, fromID: platform.id, toID: reseller, unit: .sms, amount: 1_000, reason: nil)
                _ = try Operations.applyTransfer(
                    connection, root, context, fromID: reseller, toID: client.id, unit: .sms, amount: 1_000, reason: nil)
                _ = try CapOperations.setCaps(connection, root, context, accountID: client.id, caps: caps)
                return World(root: root, client: client)
            }
            try await body(pool, world)
        }
    }

    /// One single send at `now`; answers the refusal's code and cap ("cap_exceeded sms_per_day"), or nil when it went.
    @discardableResult
    func attempt(_ pool: DatabasePool, _ world: World, to: String = "+64215550100", at now: Date) async throws -> String? {
        do {
            _ = try await pool.withOperation(actorUserID: world.root.userID, requestID: "test") { connection, context in
                try MessagingOperations.send(
                    connection, world.root, context, accountID: world.client.id,
                    input: .init(to: to, text: "hello", mediaURLs: [], sendAt: nil), now: now)
            }
            return nil
        } catch let error as DomainError {
            guard case .string(let cap) = error.details["cap"] else { return error.code.rawValue }
            return "\(error.code.rawValue) \(cap)"
        }
    }

    static func reserved(_ pool: DatabasePool, _ world: World) async throws -> Int64 {
        try await pool.withConnection { connection in
            try LedgerStore.balances(connection, account: world.client).first { $0.unit == .sms }?.reserved ?? 0
        }
    }

    static let noon = ISO8601.parse("2026-12-04T12:00:00Z")!

    @Test("a day's credits: the last unit passes, the next is refused with nothing reserved; the next day starts afresh")
    func dailyBoundary() async throws {
        let caps = SpendingCaps(timeZone: "UTC", creditsPerDay: [.sms: 3], creditsPerMonth: [.sms: 5], messagesPerMinute: nil, allowedCountries: nil)
        try await withClient(caps) { pool, world in
            for minute in 0..<3 { #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(Double(minute) * 60)) == nil) }
            #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(240)) == "cap_exceeded sms_per_day")
            #expect(try await Self.reserved(pool, world) == 3)
            let tomorrow = Self.noon.addingTimeInterval(86_400)
            #expect(try await self.attempt(pool, world, at: tomorrow) == nil)
            #expect(try await self.attempt(pool, world, at: tomorrow.addingTimeInterval(60)) == nil)
            // The month holds 5: the sixth is refused by the month, not the day.
            #expect(try await self.attempt(pool, world, at: tomorrow.addingTimeInterval(120)) == "cap_exceeded sms_per_month")
            let usage = try await pool.withTransaction { try CapOperations.caps($0, world.root, accountID: world.client.id, now: tomorrow).1 }
            #expect(usage.first { $0.cap == "sms_per_day" }?.used == 2 && usage.first { $0.cap == "sms_per_month" }?.used == 5)
        }
    }

    @Test("the day is cut in the caps' time zone, not in UTC")
    func timeZoneDay() async throws {
        let caps = SpendingCaps(
            timeZone: "Pacific/Auckland", creditsPerDay: [.sms: 1], creditsPerMonth: [:], messagesPerMinute: nil, allowedCountries: nil)
        try await withClient(caps) { pool, world in
            // 10:59 UTC is 23:59 in Auckland (UTC+13 in December); 11:00:30 UTC is the next day there.
            let lateEvening = ISO8601.parse("2026-12-04T10:59:00Z")!, afterMidnight = ISO8601.parse("2026-12-04T11:00:30Z")!
            #expect(try await self.attempt(pool, world, at: lateEvening) == nil)
            #expect(try await self.attempt(pool, world, at: lateEvening.addingTimeInterval(30)) != nil)
            #expect(try await self.attempt(pool, world, at: afterMidnight) == nil)
            #expect(try await self.attempt(pool, world, at: afterMidnight.addingTimeInterval(60)) != nil)
            let reserved = try await Self.reserved(pool, world)
            #expect(reserved == 2)
        }
    }

    @Test("messages per minute answer rate_limited; destinations outside the allow-list are refused before any count")
    func velocityAndCountries() async throws {
        let caps = SpendingCaps(timeZone: "UTC", creditsPerDay: [:], creditsPerMonth: [:], messagesPerMinute: 2, allowedCountries: ["64"])
        try await withClient(caps) { pool, world in
            #expect(try await self.attempt(pool, world, to: "+61412345678", at: Self.noon) == "cap_exceeded allowed_countries")
            #expect(try await self.attempt(pool, world, at: Self.noon) == nil)
            #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(10)) == nil)
            #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(20)) == "rate_limited messages_per_minute")
            #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(61)) == nil)
            let reserved = try await Self.reserved(pool, world)
            #expect(reserved == 3)
        }
    }

    @Test("sends racing for the last units: exactly the cap passes, whatever the interleaving")
    func racingAtTheLastUnit() async throws {
        let caps = SpendingCaps(timeZone: "UTC", creditsPerDay: [.sms: 5], creditsPerMonth: [:], messagesPerMinute: nil, allowedCountries: nil)
        try await withClient(caps) { pool, world in
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 { group.addTask { try await self.attempt(pool, world, at: Self.noon) == nil } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 5)
            #expect(try await Self.reserved(pool, world) == 5)
            let violations = try await pool.withTransaction(isolation: .repeatableRead) { try VerifyStore.verify($0) }
            #expect(violations.isEmpty)
        }
    }

    @Test("housekeeping deletes the counts of windows long over and keeps the ones a cap still reads")
    func oldWindowsPruned() async throws {
        let caps = SpendingCaps(timeZone: "UTC", creditsPerDay: [.sms: 100], creditsPerMonth: [.sms: 100], messagesPerMinute: 50, allowedCountries: nil)
        try await withClient(caps) { pool, world in
            // Ten sends twelve hours apart: ten minute rows, six day rows, one month row.
            for minute in 0..<10 {
                #expect(try await self.attempt(pool, world, at: Self.noon.addingTimeInterval(Double(minute) * 86_400 / 2)) == nil)
            }
            let rowsBefore = try await Self.usageRows(pool)
            #expect(rowsBefore == ["day": 6, "minute": 10, "month": 1])
            // Seventy minutes after the last send, with the day's counts younger than 40 days.
            let now = Self.noon.addingTimeInterval(9 * 86_400 / 2 + 70 * 60)
            let deleted = try await Housekeeping(pool: pool, logger: Logger(label: "test")).sweep(now: now)
            #expect(deleted == 10)
            #expect(try await Self.usageRows(pool) == ["day": 6, "month": 1])
            // Fifty days on, the day rows go too; the month's stays.
            _ = try await Housekeeping(pool: pool, logger: Logger(label: "test")).sweep(now: now.addingTimeInterval(50 * 86_400))
            #expect(try await Self.usageRows(pool) == ["month": 1])
        }
    }

    /// The rows of `cap_usage` by window kind.
    static func usageRows(_ pool: DatabasePool) async throws -> [String: Int64] {
        try await pool.withConnection { connection in
            try connection.execute("SELECT window_kind, count(*) AS n FROM cap_usage GROUP BY window_kind").rows
                .reduce(into: [:]) { $0[try $1.decode(String.self, "window_kind")] = try $1.decode(Int64.self, "n") }
        }
    }
}
