import CreditDeskAPI
import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

/// Defects found by probing the API as an attacker and as a new user would, each pinned down.
@Suite("Regressions found by black-box probing")
struct HardeningTests {
    static func messaging() throws -> MessagingSettings {
        MessagingSettings(secretBox: try SecretBox(encodedKey: SecretBox.generateKey()), publicBaseURL: "http://127.0.0.1:1")
    }

    static func gatewayBody(userID: UUID?) -> [String: Any] {
        var body: [String: Any] = [
            "provider": "kannel", "name": "Agent phone", "base_url": "http://127.0.0.1:1/cgi-bin/sendsms",
            "username": "u", "password": "p", "sender": "+64210000000", "home_prefix": "64",
        ]
        if let userID { body["user_id"] = userID.lower }
        return body
    }

    @Test("dates in other scripts' digits are a 400 naming the parameter, on the report and the export")
    func nonASCIIDates() async throws {
        try await withAPI { api, fixture, _ in
            let account = "/v1/accounts/\(fixture.client.id.lower)"
            let arabic = "%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A1%D9%A1-%D9%A0%D9%A1"
            let fullwidth = "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-%EF%BC%91%EF%BC%91-%EF%BC%90%EF%BC%91"
            for (route, from) in [("usage", arabic), ("usage/export", fullwidth), ("usage", fullwidth)] {
                let reply = try await api.call(
                    .get, "\(account)/\(route)?from=\(from)&to=2026-12-01", key: fixture.keys[.clientReadonly])
                #expect(reply.status == .badRequest && reply.errorCode == "invalid_parameter", "\(route): \(reply.status.code)")
                #expect(reply.errorField == "from")
            }
        }
    }

    @Test("a replayed Idempotency-Key is the sender's own: a colleague gets no replay, the sender no secret")
    func replayScopedToUser() async throws {
        try await withAPI { api, fixture, _ in
            let admin = fixture.users[.clientAdmin]!.lower
            let created = try await api.call(
                .post, "/v1/users/\(admin)/keys", key: fixture.keys[.clientAdmin], body: ["label": "laptop"],
                idempotencyKey: "laptop-key-1")
            #expect(created.status == .created)
            let newKey = try created.decode(Components.Schemas.NewKey.self)
            let secret = try #require(newKey.secret)
            // A read-only colleague sending the very same request and key: authorized on its own.
            let colleague = try await api.call(
                .post, "/v1/users/\(admin)/keys", key: fixture.keys[.clientReadonly], body: ["label": "laptop"],
                idempotencyKey: "laptop-key-1")
            #expect(colleague.status == .forbidden)
            #expect(colleague.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(!colleague.text.contains(secret))
            // The admin's own retry replays, without the secret.
            let replay = try await api.call(
                .post, "/v1/users/\(admin)/keys", key: fixture.keys[.clientAdmin], body: ["label": "laptop"],
                idempotencyKey: "laptop-key-1")
            #expect(replay.status == .created)
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let replayed = try replay.decode(Components.Schemas.NewKey.self)
            #expect(replayed.secret == nil && replayed.secretNotReplayable == true && !replay.text.contains(secret))
            #expect(replayed.key.id == newKey.key.id)
            // The same key used by two users for their own requests: two separate operations.
            let mine = fixture.users[.clientUser]!.lower
            let own = try await api.call(
                .post, "/v1/users/\(mine)/keys", key: fixture.keys[.clientUser], body: ["label": "laptop"],
                idempotencyKey: "laptop-key-1")
            #expect(own.status == .created && own.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let keys = try await api.call(.get, "/v1/users/\(admin)/keys", key: fixture.keys[.clientAdmin])
            #expect(try keys.decode(Components.Schemas.KeyPage.self).items.count == 2)  // the fixture's key and the laptop key
        }
    }

    @Test("a read-only user links no gateway, not even its own; a sending user may, and its token is not replayed")
    func ownGatewayNeedsSendingRole() async throws {
        try await withAPI(messaging: try Self.messaging()) { api, fixture, _ in
            let path = "/v1/accounts/\(fixture.client.id.lower)/gateways"
            let readonly = try await api.call(
                .post, path, key: fixture.keys[.clientReadonly], body: Self.gatewayBody(userID: fixture.users[.clientReadonly]))
            #expect(readonly.status == .forbidden)
            let body = Self.gatewayBody(userID: fixture.users[.clientUser])
            let own = try await api.call(.post, path, key: fixture.keys[.clientUser], body: body, idempotencyKey: "gw-1")
            #expect(own.status == .created)
            let token = try #require(try own.decode(Components.Schemas.Gateway.self).callbackToken)
            let replay = try await api.call(.post, path, key: fixture.keys[.clientUser], body: body, idempotencyKey: "gw-1")
            #expect(replay.status == .created && replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let replayed = try replay.decode(Components.Schemas.Gateway.self)
            #expect(replayed.callbackToken == nil && replayed.secretNotReplayable == true)
            #expect(replayed.id.description == own.id && !replay.text.contains(token))
        }
    }

    @Test("reply routing is read by the user itself and admins above it, not by colleagues")
    func replyRoutingPrivacy() async throws {
        try await withAPI { api, fixture, _ in
            let adminPath = "/v1/users/\(fixture.users[.clientAdmin]!.lower)/reply-routing"
            let set = try await api.call(
                .put, adminPath, key: fixture.keys[.clientAdmin],
                body: ["channel": "mobile", "mobile": "+61412345678", "email": "boss@office.example"])
            #expect(set.status == .ok)
            for actor in [Fixture.Actor.clientReadonly, .clientUser] {
                let reply = try await api.call(.get, adminPath, key: fixture.keys[actor])
                #expect(reply.status == .forbidden, "\(actor)")
                #expect(!reply.text.contains("61412345678"))
            }
            for actor in [Fixture.Actor.clientAdmin, .resellerAdmin, .platformOperator] {
                #expect(try await api.call(.get, adminPath, key: fixture.keys[actor]).status == .ok, "\(actor)")
            }
            let readonlyPath = "/v1/users/\(fixture.users[.clientReadonly]!.lower)/reply-routing"
            #expect(try await api.call(.get, readonlyPath, key: fixture.keys[.clientReadonly]).status == .ok)
            // Read-only users read; they forward no replies (they send nothing).
            let change = try await api.call(
                .put, readonlyPath, key: fixture.keys[.clientReadonly], body: ["channel": "email", "email": "r@office.example"])
            #expect(change.status == .forbidden)
        }
    }

    @Test("used this month is consumption only: expired credits are not use")
    func usedExcludesExpiry() async throws {
        try await withAPI { api, fixture, _ in
            let operatorKey = fixture.keys[.platformOperator]
            let admin = fixture.keys[.resellerAdmin]
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
                body: ["unit": "sms", "amount": 500, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                body: ["unit": "sms", "amount": 100, "to_account_id": fixture.client.id.lower])
            let client = "/v1/accounts/\(fixture.client.id.lower)"
            #expect(try await api.call(.post, "\(client)/charges", key: admin, body: ["unit": "sms", "amount": 3]).status == .created)
            let expiry = try await api.call(
                .post, "\(client)/credits/expire", key: admin, body: ["unit": "sms", "amount": 40, "reason": "term ended"])
            #expect(expiry.status == .created)
            let overview = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/clients", key: admin)
            let row = try overview.decode(Components.Schemas.ClientRowPage.self).items.first { $0.id.uuid == fixture.client.id }
            #expect(row?.smsUsedThisMonth == 3)
            let dashboard = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/dashboard", key: admin)
            #expect(try dashboard.decode(Components.Schemas.Dashboard.self).smsUsed == 3)
            let today = String(ISO8601.format(Date()).prefix(10))
            let tomorrow = String(ISO8601.format(Date().addingTimeInterval(2 * 86_400)).prefix(10))
            let usage = try await api.call(
                .get, "\(client)/usage?from=\(today)&to=\(tomorrow)&group=month", key: admin)
            let totals = try usage.decode(Components.Schemas.UsageReport.self).totals.first { $0.unit == .sms }
            #expect(totals?.consumed == 3 && totals?.expired == 40)
        }
    }

    @Test("a password for a user whose email another user already signs in with is a 409, not a 500")
    func sharedLogin() async throws {
        try await withAPI { api, fixture, pool in
            let (first, second) = try await pool.withTransaction { connection in
                (try UserStore.createUser(connection, account: fixture.client, name: "Ana", email: "ana@dental.example", role: .user),
                 try UserStore.createUser(connection, account: fixture.client, name: "Ana B", email: "Ana@Dental.example", role: .user))
            }
            let body = ["password": "correct horse battery"]
            let set = try await api.call(.put, "/v1/users/\(first.id.lower)/password", key: fixture.keys[.clientAdmin], body: body)
            #expect(set.status == .ok, "\(set.text)")
            let clash = try await api.call(.put, "/v1/users/\(second.id.lower)/password", key: fixture.keys[.clientAdmin], body: body)
            #expect(clash.status == .conflict && clash.errorField == "email", "\(clash.text)")
        }
    }

    @Test("a known path with another method is 405 with Allow; an unknown path is 404")
    func methodNotAllowed() async throws {
        try await withAPI { api, fixture, _ in
            let key = fixture.keys[.platformOperator]
            let account = try await api.call(.delete, "/v1/accounts/\(fixture.client.id.lower)", key: key)
            #expect(account.status == .methodNotAllowed && account.errorCode == "method_not_allowed")
            #expect(account.headers[.allow] == "GET, PATCH")
            let adjust = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: key)
            #expect(adjust.status == .methodNotAllowed && adjust.headers[.allow] == "POST")
            let callback = try await api.call(.get, "/v1/callbacks/twilio/\(UUID().lower)/inbound", key: nil)
            #expect(callback.status == .methodNotAllowed)
            let unknown = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/nothing-here", key: key)
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
        }
    }
}
