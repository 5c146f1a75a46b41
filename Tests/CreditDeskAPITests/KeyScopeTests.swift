import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CreditDeskAPI

/// Scoped keys on the real API: what each scope reaches on every documented route, address
/// ranges (and a forwarded client only behind a trusted proxy), expiry, and keys made through
/// limited keys.
@Suite("Scoped API keys")
struct KeyScopeTests {
    /// A new key for `user`, made with `key`; answers the reply and the secret.
    static func makeKey(_ api: API, user: UUID, key: String?, _ body: [String: Any]) async throws -> (Reply, String) {
        let reply = try await api.call(.post, "/v1/users/\(user.lower)/keys", key: key, body: body)
        return (reply, (try? reply.decode(Components.Schemas.NewKey.self).secret ?? "") ?? "")
    }

    /// A concrete path for an operation's template, every `{name}` a fresh id (or a digit run).
    static func concrete(_ template: String) -> String {
        template.split(separator: "/", omittingEmptySubsequences: false).map { part in
            guard part.hasPrefix("{") else { return String(part) }
            return part == "{prefix}" ? "44" : part == "{phone}" ? "%2B64215550100" : UUID().uuidString.lowercased()
        }.joined(separator: "/")
    }

    @Test("every documented route: read keys only read, send keys also send, full keys do what the user may")
    func scopeMatrix() async throws {
        try await withAPI { api, fixture, _ in
            let admin = fixture.users[.resellerAdmin]!
            let (_, read) = try await Self.makeKey(api, user: admin, key: fixture.keys[.resellerAdmin], ["scope": "read"])
            let (_, send) = try await Self.makeKey(api, user: admin, key: fixture.keys[.resellerAdmin], ["scope": "send"])
            var sendOperations: Set<String> = []
            for operation in OpenAPIController.operations where !operation.isPublic && !operation.path.hasPrefix("/v1/callbacks/") {
                let method = HTTPRequest.Method(rawValue: operation.method.uppercased())!
                let path = Self.concrete(operation.path)
                for (scope, key) in [(KeyScope.read, read), (.send, send)] {
                    let reply = try await api.call(method, path, key: key, body: [:])
                    let refused = reply.status == .forbidden && reply.errorCode == "insufficient_scope"
                    let allowed = operation.method == "get" || (scope == .send && operation.keyScopes.contains("send"))
                    #expect(refused == !allowed, "\(scope) \(operation.method) \(operation.path): \(reply.status) \(reply.text)")
                    if scope == .send && allowed && operation.method != "get" { sendOperations.insert(operation.path) }
                }
            }
            #expect(sendOperations.contains("/v1/accounts/{id}/messages") && sendOperations.contains("/v1/campaigns/{id}/confirm"))
            #expect(!sendOperations.contains("/v1/accounts/{id}/credits/adjust"))
            // A send key really sends what its user may: a contact is created; credits are not changed.
            let client = fixture.client.id.lower
            let contact = try await api.call(
                .post, "/v1/accounts/\(client)/contacts", key: send, body: ["first_name": "Ana", "mobile": "+64215550101", "sms_consent": true])
            #expect(contact.status == .created, "\(contact.text)")
            let adjust = try await api.call(
                .post, "/v1/accounts/\(client)/credits/adjust", key: send, body: ["unit": "sms", "amount": 5, "reason": "x"])
            #expect(adjust.errorCode == "insufficient_scope")
            #expect(try await api.call(.get, "/v1/accounts/\(client)/balances", key: read).status == .ok)
            // A scope narrows the user's rights, never widens them: a client agent's send key
            // still cannot touch what the agent cannot.
            let (agentKey, agentSecret) = try await Self.makeKey(
                api, user: fixture.users[.clientReadonly]!, key: fixture.keys[.clientReadonly], ["scope": "send"])
            #expect(agentKey.status == .created)
            let refused = try await api.call(
                .post, "/v1/accounts/\(client)/contacts", key: agentSecret, body: ["first_name": "Bo", "mobile": "+64215550102"])
            #expect(refused.status == .forbidden && refused.errorCode == "forbidden")
            // Keys are made only by full keys, and never wider than the key that makes them.
            let fromSend = try await Self.makeKey(api, user: admin, key: send, ["scope": "read"]).0
            #expect(fromSend.errorCode == "insufficient_scope")
        }
    }

    @Test("expiry, bad limits, two live keys for rotation, and keys made through limited keys")
    func expiryAndRotation() async throws {
        try await withAPI { api, fixture, pool in
            let admin = fixture.users[.resellerAdmin]!, full = fixture.keys[.resellerAdmin]!
            let soon = ISO8601.format(Date().addingTimeInterval(3600))
            let (expiring, secret) = try await Self.makeKey(api, user: admin, key: full, ["label": "temp", "expires_at": soon])
            let record = try expiring.decode(Components.Schemas.NewKey.self).key
            #expect(record.expiresAt != nil && record.scope == .full && record.allowedAddresses.isEmpty)
            #expect(try await api.call(.get, "/v1/me", key: secret).status == .ok)
            // Two keys live at once: the old one and this one.
            #expect(try await api.call(.get, "/v1/me", key: full).status == .ok)
            let later = ISO8601.format(Date().addingTimeInterval(7200))
            #expect(try await Self.makeKey(api, user: admin, key: secret, ["expires_at": later]).0.errorField == "expires_at")
            #expect(try await Self.makeKey(api, user: admin, key: secret, [:]).0.status == .forbidden)
            #expect(try await Self.makeKey(api, user: admin, key: secret, ["expires_at": soon]).0.status == .created)
            try await pool.withConnection { connection in
                _ = try connection.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [record.id.uuid])
            }
            let expired = try await api.call(.get, "/v1/me", key: secret)
            #expect(expired.status == .unauthorized && expired.text.contains("expired"))
            let past = ISO8601.format(Date().addingTimeInterval(-60))
            let pastReply = try await Self.makeKey(api, user: admin, key: full, ["expires_at": past]).0
            #expect(pastReply.status == .conflict && pastReply.errorField == "expires_at")
            let bad = try await Self.makeKey(api, user: admin, key: full, ["allowed_addresses": ["10.0.0.0/8", "10.0.0.300"]]).0
            #expect(bad.status == .badRequest && bad.errorField == "allowed_addresses[1]")
            let many = try await Self.makeKey(api, user: admin, key: full, ["allowed_addresses": (0..<21).map { "10.0.0.\($0)" }]).0
            #expect(many.status == .badRequest)
            let listed = try await api.call(.get, "/v1/users/\(admin.lower)/keys", key: full).text
            #expect(listed.contains("\"scope\":\"full\"") && !listed.contains(secret))
        }
    }

    @Test("the contract's pattern for an address range is the one the server parses with")
    func addressPattern() throws {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let createKey = (schemas?["CreateKey"] as? [String: Any])?["properties"] as? [String: Any]
        let items = (createKey?["allowed_addresses"] as? [String: Any])?["items"] as? [String: Any]
        #expect(items?["pattern"] as? String == AddressRange.pattern)
    }

    /// The real router on a loopback port, so requests have a peer address; `trusted` are the proxies.
    func withLiveAPI(trusted: [AddressRange], _ body: @escaping @Sendable (API, Fixture) async throws -> Void) async throws {
        try await withTestDatabase(poolSize: 4) { pool in
            let fixture = try await Fixture.make(pool)
            var dependencies = AppDependencies(pool: pool, migrator: try await TestCluster.shared.ready().migrator)
            dependencies.trustedProxies = trusted
            try await Application(router: try buildRouter(dependencies: dependencies)).test(.live) { client in
                try await body(API(client: client), fixture)
            }
        }
    }

    static func me(_ api: API, _ key: String, forwardedFor: String? = nil) async throws -> Reply {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        if let forwardedFor { headers[HTTPField.Name("X-Forwarded-For")!] = forwardedFor }
        return try await api.client.execute(uri: "/v1/me", method: .get, headers: headers, body: nil) { response in
            Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }

    @Test("address ranges: the peer decides, X-Forwarded-For only from a trusted proxy; the audit log has the client")
    func addressRanges() async throws {
        try await withLiveAPI(trusted: []) { api, fixture in
            let admin = fixture.users[.resellerAdmin]!, full = fixture.keys[.resellerAdmin]!
            let (_, office) = try await Self.makeKey(api, user: admin, key: full, ["allowed_addresses": ["203.0.113.0/24"]])
            let (_, local) = try await Self.makeKey(api, user: admin, key: full, ["allowed_addresses": ["127.0.0.0/8", "::1"]])
            let refused = try await Self.me(api, office, forwardedFor: "203.0.113.7")
            #expect(refused.status == .forbidden && refused.errorCode == "address_not_allowed")
            #expect(try await Self.me(api, local).status == .ok)
            // A limited key makes only keys within its ranges.
            #expect(try await Self.makeKey(api, user: admin, key: local, [:]).0.status == .forbidden)
            #expect(try await Self.makeKey(api, user: admin, key: local, ["allowed_addresses": ["127.0.0.1"]]).0.status == .created)
        }
        try await withLiveAPI(trusted: [AddressRange("127.0.0.1")!, AddressRange("::1")!]) { api, fixture in
            let admin = fixture.users[.resellerAdmin]!, full = fixture.keys[.resellerAdmin]!
            let (_, office) = try await Self.makeKey(api, user: admin, key: full, ["allowed_addresses": ["203.0.113.0/24"]])
            #expect(try await Self.me(api, office, forwardedFor: "198.51.100.1, 203.0.113.7").status == .ok)
            #expect(try await Self.me(api, office, forwardedFor: "203.0.113.7, 198.51.100.1").status == .forbidden)
            #expect(try await Self.me(api, office).status == .forbidden)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(full)"
            headers[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.9"
            headers[HTTPField.Name("Idempotency-Key")!] = UUID().uuidString
            headers[.contentType] = "application/json"
            _ = try await api.client.execute(
                uri: "/v1/accounts/\(fixture.client.id.lower)", method: .patch, headers: headers,
                body: ByteBuffer(string: #"{"name":"Via proxy"}"#)) { _ in }
            let audit = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/audit?action=account.renamed", key: full)
            let event = try #require(try audit.decode(Components.Schemas.AuditPage.self).items.first)
            #expect(event.sourceAddress == "203.0.113.9")
        }
    }
}
