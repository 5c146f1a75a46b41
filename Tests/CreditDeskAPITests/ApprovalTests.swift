import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

/// Four-eyes approvals on the real API and database: a movement above the threshold is held
/// (nothing moves), a second admin applies it exactly once, under races, expiry and tenancy.
@Suite("Four-eyes approvals")
struct ApprovalTests {
    typealias Request = Components.Schemas.ApprovalRequest

    struct World {
        let api: API
        let fixture: Fixture
        let pool: DatabasePool
        /// A second admin of the reseller, who may approve what the first requests.
        let colleague: String
        var client: String { "/v1/accounts/\(fixture.client.id.lower)" }
        var reseller: String { "/v1/accounts/\(fixture.reseller.id.lower)" }
        var admin: String { fixture.keys[.resellerAdmin]! }
        var operatorKey: String { fixture.keys[.platformOperator]! }

        func adjust(_ amount: Int64, key: String? = nil, idempotencyKey: String = UUID().uuidString) async throws -> Reply {
            try await api.call(
                .post, "\(client)/credits/adjust", key: key ?? admin, body: ["unit": "sms", "amount": amount, "reason": "goodwill"],
                idempotencyKey: idempotencyKey)
        }

        func decide(_ id: String, _ verb: String, key: String) async throws -> Reply {
            try await api.call(.post, "/v1/approvals/\(id)/\(verb)", key: key)
        }

        func available(_ account: UUID) async throws -> Int64 {
            try await api.balance(account, .sms, key: operatorKey).available
        }
    }

    /// The reseller holds 1,000 SMS credits; the operator set its SMS threshold to 100.
    func withWorld(_ body: @escaping @Sendable (World) async throws -> Void) async throws {
        try await withAPI { api, fixture, pool in
            let operatorKey = fixture.keys[.platformOperator]!
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
                body: ["unit": "sms", "amount": 1_000, "to_account_id": fixture.reseller.id.lower])
            let set = try await api.call(
                .put, "/v1/accounts/\(fixture.reseller.id.lower)/approval-thresholds", key: operatorKey,
                body: ["sms_threshold": 100])
            #expect(set.status == .ok, "\(set.text)")
            let user = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/users", key: operatorKey,
                body: ["name": "Second admin", "role": "admin"]
            ).id
            let key = try await api.call(.post, "/v1/users/\(user)/keys", key: operatorKey, body: ["label": "approver"])
            let colleague = try #require(try key.decode(Components.Schemas.NewKey.self).secret)
            try await body(World(api: api, fixture: fixture, pool: pool, colleague: colleague))
            try await verifyClean(pool)
        }
    }

    @Test("up to the threshold applies; above it is held, nothing moves, a replay answers the same request")
    func held() async throws {
        try await withWorld { world in
            #expect(try await world.adjust(100).status == .ok)
            let clientBefore = try await world.available(world.fixture.client.id)
            let resellerBefore = try await world.available(world.fixture.reseller.id)
            let key = UUID().uuidString
            let held = try await world.adjust(101, idempotencyKey: key)
            #expect(held.status == .accepted, "\(held.text)")
            let request = try held.decode(Request.self)
            #expect(request.status == .pending && request.amount == 101 && request.kind == .adjust)
            let replay = try await world.adjust(101, idempotencyKey: key)
            let replayedID = try replay.decode(Request.self).id
            #expect(replay.status == .accepted && replay.replayed && replayedID == request.id)
            // A removal counts by its size.
            #expect(try await world.adjust(-150).status == .accepted)
            #expect(try await world.available(world.fixture.client.id) == clientBefore)
            #expect(try await world.available(world.fixture.reseller.id) == resellerBefore)
            let pending = try await world.api.call(.get, "\(world.reseller)/approvals?status=pending", key: world.colleague)
            #expect(try pending.decode(Components.Schemas.ApprovalPage.self).items.count == 2)
            // A transfer is held by the same threshold.
            let transfer = try await world.api.call(
                .post, "\(world.reseller)/credits/transfer", key: world.admin,
                body: ["unit": "sms", "amount": 500, "to_account_id": world.fixture.client.id.lower])
            #expect(transfer.status == .accepted)
            let approved = try await world.decide(try transfer.decode(Request.self).id.uuid.lower, "approve", key: world.colleague)
            let entryID = try approved.decode(Request.self).entryId
            #expect(approved.status == .ok && entryID != nil)
            #expect(try await world.available(world.fixture.client.id) == clientBefore + 500)
        }
    }

    @Test("a second admin applies it once, from the requester's pool; the requester cannot; other tenants see nothing")
    func approveOnce() async throws {
        try await withWorld { world in
            let id = try (try await world.adjust(300)).decode(Request.self).id.uuid.lower
            let own = try await world.decide(id, "approve", key: world.admin)
            #expect(own.status == .forbidden)
            #expect(try await world.decide(id, "approve", key: world.fixture.keys[.otherResellerAdmin]!).status == .notFound)
            #expect(try await world.api.call(.get, "/v1/approvals/\(id)", key: world.fixture.keys[.otherResellerAdmin]).status == .notFound)
            #expect(try await world.decide(id, "approve", key: world.fixture.keys[.resellerBilling]!).status == .forbidden)
            let resellerBefore = try await world.available(world.fixture.reseller.id)
            let clientBefore = try await world.available(world.fixture.client.id)
            // Racing approvals by two admins, each under its own idempotency key: one applies.
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await world.decide(id, "approve", key: index % 2 == 0 ? world.colleague : world.operatorKey).status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1 && statuses.filter { $0 == .conflict }.count == 7, "\(statuses)")
            #expect(try await world.available(world.fixture.client.id) == clientBefore + 300)
            #expect(try await world.available(world.fixture.reseller.id) == resellerBefore - 300)
            let request = try (try await world.api.call(.get, "/v1/approvals/\(id)", key: world.admin)).decode(Request.self)
            #expect(request.status == .approved && request.decidedBy != nil && request.entryId != nil)
            let audit = try await world.api.call(.get, "\(world.reseller)/audit?object=\(id)", key: world.operatorKey)
            let actions = try audit.decode(Components.Schemas.AuditPage.self).items.map(\.action)
            #expect(actions == ["approval.approved", "approval.requested"])
        }
    }

    @Test("an approval that no longer fits stays pending; rejected and expired requests cannot be approved")
    func refusals() async throws {
        try await withWorld { world in
            let big = try (try await world.adjust(5_000)).decode(Request.self).id.uuid.lower
            let short = try await world.decide(big, "approve", key: world.colleague)
            #expect(short.status == .conflict && short.errorCode == "insufficient_credits")
            let still = try (try await world.api.call(.get, "/v1/approvals/\(big)", key: world.admin)).decode(Request.self)
            #expect(still.status == .pending)
            try await world.api.call(
                .post, "/v1/accounts/\(world.fixture.platform.id.lower)/credits/transfer", key: world.operatorKey,
                body: ["unit": "sms", "amount": 5_000, "to_account_id": world.fixture.reseller.id.lower])
            #expect(try await world.decide(big, "approve", key: world.colleague).status == .ok)

            let rejected = try (try await world.adjust(200)).decode(Request.self).id.uuid.lower
            #expect(try await world.decide(rejected, "reject", key: world.admin).status == .ok)  // withdrawn
            #expect(try await world.decide(rejected, "approve", key: world.colleague).status == .conflict)

            let old = try (try await world.adjust(250)).decode(Request.self).id
            try await world.pool.withConnection { connection in
                _ = try connection.execute(
                    "UPDATE approval_requests SET expires_at = now() - interval '1 second' WHERE id = $1", [old.uuid])
            }
            let expired = try await world.decide(old.uuid.lower, "approve", key: world.colleague)
            #expect(expired.status == .conflict && expired.text.contains("expired"))
            let listed = try await world.api.call(.get, "\(world.reseller)/approvals?status=expired", key: world.admin)
            #expect(try listed.decode(Components.Schemas.ApprovalPage.self).items.map(\.id) == [old])
        }
    }

    @Test("an account's own admins may tighten its thresholds, never loosen them; an ancestor may")
    func thresholds() async throws {
        try await withWorld { world in
            let path = "\(world.reseller)/approval-thresholds"
            #expect(try await world.api.call(.put, path, key: world.admin, body: ["sms_threshold": 50, "mms_threshold": 10]).status == .ok)
            #expect(try await world.api.call(.put, path, key: world.admin, body: ["sms_threshold": 500, "mms_threshold": 10]).status == .forbidden)
            #expect(try await world.api.call(.put, path, key: world.admin, body: ["mms_threshold": 10]).status == .forbidden)
            #expect(try await world.adjust(60).status == .accepted)
            let removed = try await world.api.call(.put, path, key: world.operatorKey, body: [:])
            let remaining = try removed.decode(Components.Schemas.ApprovalThresholds.self).smsThreshold
            #expect(removed.status == .ok && remaining == nil)
            #expect(try await world.adjust(60).status == .ok)
            #expect(try await world.api.call(.put, "\(world.client)/approval-thresholds", key: world.admin, body: [:]).status == .conflict)
            #expect(try await world.api.call(.put, path, key: world.fixture.keys[.resellerSupport]!, body: [:]).status == .forbidden)
            let audit = try await world.api.call(.get, "\(world.reseller)/audit?action=approval_threshold.changed", key: world.operatorKey)
            #expect(try audit.decode(Components.Schemas.AuditPage.self).items.count == 3)
        }
    }

    @Test("the console says a held movement is waiting for a second admin, and moves nothing")
    func console() async throws {
        try await withWorld { world in
            let email = try await ConsoleTests().resellerAdmin(world.fixture, world.pool)
            let browser = ConsoleBrowser(world.api.client)
            _ = try await browser.signIn(email, ConsoleTests.password)
            let clientPath = "/console/clients/\(world.fixture.client.id.lower)"
            let page = try await browser.get(clientPath)
            let csrf = try #require(page.field("csrf")), key = try #require(page.field("form_key"))
            let before = try await world.available(world.fixture.client.id)
            _ = try await browser.post(
                "\(clientPath)/credits",
                [("csrf", csrf), ("form_key", key), ("unit", "sms"), ("amount", "400"), ("reason", "big"), ("direction", "add")])
            #expect(try await browser.get(clientPath).html.contains("Held for approval: 400 SMS credits wait for a second admin"))
            #expect(try await world.available(world.fixture.client.id) == before)
        }
    }
}
