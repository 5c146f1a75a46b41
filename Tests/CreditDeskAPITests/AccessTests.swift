import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

@Suite("Roles, tenants and bad input on every route")
struct AccessTests {
    enum Outcome: Equatable { case ok, forbidden, notFound }

    struct Case: Sendable {
        let name: String
        let method: HTTPRequest.Method
        let path: @Sendable (Fixture) -> String
        var body: @Sendable (Fixture) -> [String: Any] = { _ in [:] }
        /// Actors allowed; every other actor is refused with `refused(actor)`.
        let allowed: Set<Fixture.Actor>
        /// Actors to whom the target is outside their subtree (404 rather than 403).
        var outside: Set<Fixture.Actor> = []
    }

    static let everyone = Set(Fixture.Actor.allCases).subtracting([.otherResellerAdmin])
    static let clientSide: Set<Fixture.Actor> = [.clientAdmin, .clientUser, .clientReadonly]
    static let creditManagers: Set<Fixture.Actor> = [.platformOperator, .resellerAdmin]
    static let consumers: Set<Fixture.Actor> = [.platformOperator, .resellerAdmin, .clientAdmin, .clientUser]
    static let messagingManagers: Set<Fixture.Actor> = [.platformOperator, .resellerAdmin, .clientAdmin]
    static let auditReaders = everyone.subtracting([.clientUser, .clientReadonly])

    static let cases: [Case] = [
        Case(name: "read account", method: .get, path: { "/v1/accounts/\($0.client.id.lower)" }, allowed: everyone),
        Case(
            name: "rename account", method: .patch, path: { "/v1/accounts/\($0.client.id.lower)" },
            body: { _ in ["name": "Renamed"] }, allowed: creditManagers),
        Case(
            name: "create account", method: .post, path: { _ in "/v1/accounts" },
            body: { ["parent_id": $0.reseller.id.lower, "kind": "client", "name": "New \(UUID())"] },
            allowed: creditManagers, outside: clientSide),
        Case(
            name: "list children", method: .get, path: { "/v1/accounts/\($0.reseller.id.lower)/children" },
            allowed: everyone.subtracting(clientSide), outside: clientSide),
        Case(name: "read features", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/features" }, allowed: everyone),
        Case(
            name: "change features", method: .patch, path: { "/v1/accounts/\($0.client.id.lower)/features" },
            body: { _ in ["campaigns": true] }, allowed: creditManagers),
        Case(
            name: "create user", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/users" },
            body: { _ in ["name": "Agent", "role": "user"] },
            allowed: [.platformOperator, .resellerAdmin, .clientAdmin]),
        Case(name: "list users", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/users" }, allowed: everyone),
        Case(name: "balances", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/balances" }, allowed: everyone),
        Case(
            name: "adjust", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/credits/adjust" },
            body: { _ in ["unit": "sms", "amount": 5, "reason": "goodwill"] }, allowed: creditManagers),
        Case(
            name: "transfer", method: .post, path: { "/v1/accounts/\($0.reseller.id.lower)/credits/transfer" },
            body: { ["unit": "sms", "amount": 1, "to_account_id": $0.client.id.lower] }, allowed: creditManagers,
            outside: clientSide),
        Case(
            name: "credit limit", method: .put, path: { "/v1/accounts/\($0.client.id.lower)/credit-limit" },
            body: { _ in ["unit": "sms", "credit_limit": 10] }, allowed: creditManagers),
        Case(
            name: "reserve", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/reservations" },
            body: { _ in ["unit": "sms", "amount": 1] }, allowed: consumers),
        Case(
            name: "bulk reserve", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/reservations/bulk" },
            body: { _ in ["unit": "sms", "items": [["amount": 1, "reference": "m-1"]]] }, allowed: consumers),
        Case(
            name: "list reservations", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/reservations" },
            allowed: everyone),
        Case(
            name: "charge", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/charges" },
            body: { _ in ["unit": "sms", "amount": 1] }, allowed: consumers),
        Case(
            name: "expire", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/credits/expire" },
            body: { _ in ["unit": "sms", "amount": 1] }, allowed: creditManagers),
        Case(name: "entries", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/entries" }, allowed: everyone),
        Case(
            name: "clients overview", method: .get, path: { "/v1/accounts/\($0.reseller.id.lower)/clients" },
            allowed: everyone.subtracting(clientSide), outside: clientSide),
        Case(name: "dashboard", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/dashboard" }, allowed: everyone),
        Case(
            name: "create package", method: .post, path: { "/v1/accounts/\($0.reseller.id.lower)/packages" },
            body: { _ in ["name": "Pack \(UUID())", "sms_credits": 10, "price_minor": 100, "currency": "EUR"] },
            allowed: creditManagers, outside: clientSide),
        Case(
            name: "list packages", method: .get, path: { "/v1/accounts/\($0.reseller.id.lower)/packages" },
            allowed: everyone.subtracting(clientSide), outside: clientSide),
        Case(name: "list gateways", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/gateways" }, allowed: everyone),
        Case(
            name: "set rate", method: .put, path: { "/v1/accounts/\($0.reseller.id.lower)/rates/44" },
            body: { _ in ["credits_per_segment": 3] }, allowed: creditManagers, outside: clientSide),
        Case(name: "list messages", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/messages" }, allowed: everyone),
        Case(
            name: "add opt-outs", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/opt-outs" },
            body: { _ in ["phones": ["+64215550100"]] }, allowed: messagingManagers),
        Case(name: "list opt-outs", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/opt-outs" }, allowed: everyone),
        Case(
            name: "add contact", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/contacts" },
            body: { _ in ["first_name": "Ana", "mobile": "+64215550101", "sms_consent": true] }, allowed: consumers),
        Case(name: "list contacts", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/contacts" }, allowed: everyone),
        Case(
            name: "create contact list", method: .post, path: { "/v1/accounts/\($0.client.id.lower)/contact-lists" },
            body: { _ in ["name": "List \(UUID())"] }, allowed: consumers),
        Case(
            name: "list contact lists", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/contact-lists" },
            allowed: everyone),
        Case(
            name: "messaging settings", method: .put, path: { "/v1/accounts/\($0.client.id.lower)/messaging-settings" },
            body: { _ in ["reply_match_order": ["mobile"]] }, allowed: messagingManagers),
        Case(
            name: "read messaging settings", method: .get,
            path: { "/v1/accounts/\($0.client.id.lower)/messaging-settings" }, allowed: everyone),
        Case(name: "list campaigns", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/campaigns" }, allowed: everyone),
        Case(
            name: "approval thresholds", method: .get, path: { "/v1/accounts/\($0.reseller.id.lower)/approval-thresholds" },
            allowed: everyone.subtracting(clientSide), outside: clientSide),
        Case(
            name: "set approval thresholds", method: .put,
            path: { "/v1/accounts/\($0.reseller.id.lower)/approval-thresholds" }, body: { _ in ["sms_threshold": 1_000_000] },
            allowed: creditManagers, outside: clientSide),
        Case(
            name: "list approvals", method: .get, path: { "/v1/accounts/\($0.reseller.id.lower)/approvals" },
            allowed: everyone.subtracting(clientSide), outside: clientSide),
        Case(name: "read caps", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/caps" }, allowed: everyone),
        Case(
            name: "set caps", method: .put, path: { "/v1/accounts/\($0.client.id.lower)/caps" }, body: { _ in [:] },
            allowed: creditManagers),
        Case(name: "audit log", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/audit" }, allowed: auditReaders),
        Case(
            name: "audit export", method: .get, path: { "/v1/accounts/\($0.client.id.lower)/audit/export" },
            allowed: auditReaders),
    ]

    @Test("each role gets exactly what it may do on each route")
    func roleMatrix() async throws {
        try await withAPI { api, fixture, _ in
            // Credits to spend, so allowed consumers succeed.
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
                body: ["unit": "sms", "amount": 10_000, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
                body: ["unit": "sms", "amount": 1_000, "to_account_id": fixture.client.id.lower])
            for routeCase in Self.cases {
                for actor in Self.everyone {
                    let reply = try await api.call(
                        routeCase.method, routeCase.path(fixture), key: fixture.keys[actor], body: routeCase.body(fixture))
                    let expected: Outcome =
                        routeCase.allowed.contains(actor) ? .ok : routeCase.outside.contains(actor) ? .notFound : .forbidden
                    let actual: Outcome =
                        (200..<300).contains(reply.status.code)
                        ? .ok : reply.status == .notFound ? .notFound : reply.status == .forbidden ? .forbidden : .ok
                    #expect(
                        actual == expected && (actual != .ok || (200..<300).contains(reply.status.code)),
                        "\(routeCase.name) as \(actor.rawValue): \(reply.status.code) \(reply.errorCode ?? "")")
                }
            }
        }
    }

    @Test("each role gets exactly what it may do on reservation, refund, package, sale and key routes")
    func objectRouteMatrix() async throws {
        try await withAPI { api, fixture, _ in
            let operatorKey = fixture.keys[.platformOperator]
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
                body: ["unit": "sms", "amount": 100_000, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: operatorKey,
                body: ["unit": "sms", "amount": 10_000, "to_account_id": fixture.client.id.lower])
            let package = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: operatorKey,
                body: ["name": "Matrix", "sms_credits": 5, "price_minor": 10, "currency": "EUR"])
            let clientUser = fixture.users[.clientUser]!.lower
            let userManagers: Set<Fixture.Actor> = [.platformOperator, .resellerAdmin, .clientAdmin, .clientUser]
            for actor in Self.everyone {
                let key = fixture.keys[actor]
                let reserve = { try await api.call(
                    .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: operatorKey,
                    body: ["unit": "sms", "amount": 2]).id }
                let charge = try await api.call(
                    .post, "/v1/accounts/\(fixture.client.id.lower)/charges", key: operatorKey, body: ["unit": "sms", "amount": 2])
                let chargeID = charge.id
                let attempts: [(String, Reply, Set<Fixture.Actor>, Set<Fixture.Actor>)] = [
                    ("post", try await api.call(.post, "/v1/reservations/\(try await reserve())/post", key: key, body: [:]),
                     Self.consumers, []),
                    ("void", try await api.call(.post, "/v1/reservations/\(try await reserve())/void", key: key, body: [:]),
                     Self.consumers, []),
                    ("refund", try await api.call(.post, "/v1/entries/\(chargeID)/refund", key: key, body: ["reason": "r"]),
                     Self.creditManagers, []),
                    ("update package", try await api.call(.patch, "/v1/packages/\(package.id)", key: key, body: ["active": true]),
                     Self.creditManagers, Self.clientSide),
                    ("sell package", try await api.call(
                        .post, "/v1/accounts/\(fixture.client.id.lower)/package-sales", key: key, body: ["package_id": package.id]),
                     Self.creditManagers, []),
                    ("create key", try await api.call(.post, "/v1/users/\(clientUser)/keys", key: key, body: ["label": "x"]),
                     userManagers, []),
                    ("list keys", try await api.call(.get, "/v1/users/\(clientUser)/keys", key: key), userManagers, []),
                    // A colleague's reply routing holds its private mobile and email.
                    ("read reply routing", try await api.call(.get, "/v1/users/\(clientUser)/reply-routing", key: key),
                     userManagers, []),
                    ("me", try await api.call(.get, "/v1/me", key: key), Self.everyone, []),
                ]
                for (name, reply, allowed, outside) in attempts {
                    let expected: HTTPResponse.Status.Kind = allowed.contains(actor) ? .successful : .clientError
                    let expectedStatus: Int? =
                        allowed.contains(actor) ? nil : outside.contains(actor) ? 404 : 403
                    #expect(reply.status.kind == expected, "\(name) as \(actor.rawValue): \(reply.status.code)")
                    if let expectedStatus {
                        #expect(reply.status.code == expectedStatus, "\(name) as \(actor.rawValue): \(reply.status.code)")
                    }
                }
            }
        }
    }

    @Test("on the client, users who send link their own gateway; read-only users cannot, and replays are per user")
    func ownGatewayAndReplayMatrix() async throws {
        try await withAPI(messaging: try HardeningTests.messaging()) { api, fixture, _ in
            let path = "/v1/accounts/\(fixture.client.id.lower)/gateways"
            let expected: [Fixture.Actor: Int] = [.clientAdmin: 201, .clientUser: 201, .clientReadonly: 403]
            for (actor, status) in expected {
                let reply = try await api.call(
                    .post, path, key: fixture.keys[actor], body: HardeningTests.gatewayBody(userID: fixture.users[actor]),
                    idempotencyKey: "own-gateway")
                // One Idempotency-Key for all three: each user's is its own, so none is a replay.
                #expect(reply.status.code == status, "\(actor.rawValue): \(reply.status.code) \(reply.errorCode ?? "")")
                #expect(reply.headers[HTTPField.Name("Idempotent-Replayed")!] == nil, "\(actor.rawValue)")
            }
        }
    }

    @Test("another reseller's key gets 404 for every id-bearing route, and changes nothing")
    func crossTenant() async throws {
        try await withAPI { api, fixture, _ in
            let operatorKey = fixture.keys[.platformOperator]
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
                body: ["unit": "sms", "amount": 100, "to_account_id": fixture.reseller.id.lower])
            let reservation = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/reservations", key: operatorKey,
                body: ["unit": "sms", "amount": 10])
            let charge = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/charges", key: operatorKey,
                body: ["unit": "sms", "amount": 5])
            let package = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: operatorKey,
                body: ["name": "P", "sms_credits": 1, "price_minor": 1, "currency": "EUR"])
            let userID = fixture.users[.clientUser]!.lower
            let keys = try await api.call(.get, "/v1/users/\(userID)/keys", key: operatorKey)
            let keyID = try #require(try keys.decode(Components.Schemas.KeyPage.self).items.first?.id)
            let chargeID = charge.id
            let before = try await api.balance(fixture.reseller.id, .sms, key: operatorKey!)

            let rival = fixture.keys[.otherResellerAdmin]
            let routes: [(HTTPRequest.Method, String, [String: Any])] = Self.cases.map {
                ($0.method, $0.path(fixture), $0.body(fixture))
            } + [
                (.post, "/v1/reservations/\(reservation.id)/post", [:]),
                (.post, "/v1/reservations/\(reservation.id)/void", [:]),
                (.post, "/v1/entries/\(chargeID)/refund", ["reason": "steal"]),
                (.patch, "/v1/packages/\(package.id)", ["active": false]),
                (.post, "/v1/accounts/\(fixture.client.id.lower)/package-sales", ["package_id": package.id]),
                (.post, "/v1/users/\(userID)/keys", ["label": "mine now"]),
                (.get, "/v1/users/\(userID)/keys", [:]),
                (.delete, "/v1/keys/\(keyID)", [:]),
                (.post, "/v1/accounts", ["parent_id": fixture.reseller.id.lower, "kind": "client", "name": "Spy"]),
                (.post, "/v1/accounts/\(fixture.otherReseller.id.lower)/credits/transfer",
                 ["unit": "sms", "amount": 1, "to_account_id": fixture.client.id.lower]),
            ]
            for (method, path, body) in routes {
                let reply = try await api.call(method, path, key: rival, body: body)
                #expect(reply.status == .notFound, "\(method) \(path): \(reply.status.code)")
            }
            let after = try await api.balance(fixture.reseller.id, .sms, key: operatorKey!)
            #expect(before.posted == after.posted && before.reserved == after.reserved)
            // The rival sees its own account fine: the 404s are about scope, not a broken key.
            #expect(try await api.call(.get, "/v1/accounts/\(fixture.otherReseller.id.lower)", key: rival).status == .ok)
        }
    }

    @Test("bad input on every mutating route is a 400 naming the problem, and changes nothing")
    func badInput() async throws {
        try await withAPI { api, fixture, _ in
            let key = fixture.keys[.platformOperator]
            let mutating = Self.cases.filter { $0.method != .get }
            let extra: [(HTTPRequest.Method, String)] = [
                (.post, "/v1/reservations/\(UUID().lower)/post"), (.post, "/v1/reservations/\(UUID().lower)/void"),
                (.post, "/v1/entries/1/refund"), (.patch, "/v1/packages/\(UUID().lower)"),
                (.post, "/v1/accounts/\(fixture.client.id.lower)/package-sales"),
                (.post, "/v1/users/\(fixture.users[.clientUser]!.lower)/keys"), (.delete, "/v1/keys/\(UUID().lower)"),
            ]
            let routes = mutating.map { ($0.method, $0.path(fixture), $0.body(fixture)) } + extra.map { ($0.0, $0.1, [String: Any]()) }
            for (method, path, _) in routes {
                let unknown = try await api.call(method, path, key: key, body: ["surprise": 1])
                #expect(unknown.status == .badRequest, "\(path) unknown field: \(unknown.status.code)")
                #expect(unknown.errorCode == "unknown_field", "\(path): \(unknown.errorCode ?? "")")
                let notJSON = try await api.call(method, path, key: key, rawBody: "[1,2")
                #expect(notJSON.status == .badRequest, "\(path) not JSON: \(notJSON.status.code)")
            }
            for routeCase in mutating {
                let missingKey = try await api.call(
                    routeCase.method, routeCase.path(fixture), key: key, body: routeCase.body(fixture),
                    idempotencyKey: nil)
                #expect(missingKey.status == .badRequest)
                #expect(missingKey.errorCode == "idempotency_key_required", "\(routeCase.name)")
                let badPath = routeCase.path(fixture).replacingOccurrences(
                    of: fixture.client.id.lower, with: "not-a-uuid"
                ).replacingOccurrences(of: fixture.reseller.id.lower, with: "not-a-uuid")
                if badPath != routeCase.path(fixture) {
                    let reply = try await api.call(routeCase.method, badPath, key: key, body: routeCase.body(fixture))
                    #expect(reply.status == .badRequest, "\(badPath): \(reply.status.code)")
                }
            }
            // Wrong types name the field.
            let wrongType = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: key,
                body: ["unit": "sms", "amount": "lots", "reason": "x"])
            #expect(wrongType.errorCode == "invalid_field")
            #expect(wrongType.errorField == "amount")
            let badEnum = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: key,
                body: ["unit": "fax", "amount": 1, "reason": "x"])
            #expect(badEnum.errorField == "unit")
            let zero = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: key,
                body: ["unit": "sms", "amount": 0, "reason": "x"])
            #expect(zero.status == .badRequest)
            let noReason = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: key, body: ["unit": "sms", "amount": 3])
            #expect(noReason.errorField == "reason")
            let badLimit = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/entries?limit=100000", key: key)
            #expect(badLimit.status == .badRequest)
            let badCursor = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/entries?cursor=zzz", key: key)
            #expect(badCursor.status == .badRequest)
            let tooLarge = try await api.call(
                .post, "/v1/accounts", key: key, rawBody: "{\"name\":\"" + String(repeating: "x", count: 300_000) + "\"}")
            #expect(tooLarge.status == .contentTooLarge)
            // None of it moved a credit.
            let balance = try await api.balance(fixture.client.id, .sms, key: key!)
            #expect(balance.posted == 0 && balance.reserved == 0)
            let entries = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/entries", key: key)
            #expect(try entries.decode(Components.Schemas.EntryPage.self).items.isEmpty)
        }
    }

    @Test("no key, a wrong key or a revoked key is 401; a suspended account can read but not write")
    func authentication() async throws {
        try await withAPI { api, fixture, _ in
            #expect(try await api.call(.get, "/v1/me", key: nil).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/me", key: "cdk_wrong").status == .unauthorized)
            let me = try await api.call(.get, "/v1/me", key: fixture.keys[.clientUser])
            #expect(try me.decode(Components.Schemas.Me.self).user.role == .user)

            let operatorKey = fixture.keys[.platformOperator]
            let created = try await api.call(
                .post, "/v1/users/\(fixture.users[.clientUser]!.lower)/keys", key: fixture.keys[.clientUser],
                body: ["label": "laptop"])
            #expect(created.status == .created)
            let newKey = try created.decode(Components.Schemas.NewKey.self)
            let secret = try #require(newKey.secret)
            #expect(try await api.call(.get, "/v1/me", key: secret).status == .ok)
            let listed = try await api.call(.get, "/v1/users/\(fixture.users[.clientUser]!.lower)/keys", key: operatorKey)
            #expect(listed.status == .ok && !listed.text.contains(secret))
            let keyID = newKey.key.id
            #expect(try await api.call(.delete, "/v1/keys/\(keyID)", key: operatorKey).status == .ok)
            #expect(try await api.call(.get, "/v1/me", key: secret).status == .unauthorized)

            let suspend = try await api.call(
                .patch, "/v1/accounts/\(fixture.reseller.id.lower)", key: operatorKey, body: ["status": "suspended"])
            #expect(suspend.status == .ok)
            #expect(try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)", key: fixture.keys[.clientAdmin]).status == .ok)
            let write = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: fixture.keys[.clientUser],
                body: ["unit": "sms", "amount": 1])
            #expect(write.status == .forbidden)
            #expect(write.errorCode == "account_suspended")
        }
    }
}
