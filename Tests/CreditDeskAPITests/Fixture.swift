import CreditDeskAPI
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

/// A platform with two resellers (tenants A and B), each with a client, and a user with an
/// API key for every role. Built through the same operations the API uses.
struct Fixture: Sendable {
    enum Actor: String, CaseIterable, Sendable {
        case platformOperator, platformBilling
        case resellerAdmin, resellerBilling, resellerSupport
        case clientAdmin, clientUser, clientReadonly
        case otherResellerAdmin
    }

    let platform: AccountRecord
    let reseller: AccountRecord
    let client: AccountRecord
    let otherReseller: AccountRecord
    let otherClient: AccountRecord
    let keys: [Actor: String]
    let users: [Actor: UUID]

    static func make(_ pool: DatabasePool) async throws -> Fixture {
        try await pool.withTransaction { connection in
            let (platform, operatorUser, operatorKey) = try Operations.bootstrap(
                connection, operatorName: "Operator", email: nil)
            let root = Principal(
                userID: operatorUser.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator,
                accountKind: .platform)
            let context = OperationContext(actorUserID: operatorUser.id, requestID: "fixture")
            let reseller = try Operations.createAccount(connection, root, context, parentID: platform.id, kind: .reseller, name: "Acme")
            let client = try Operations.createAccount(connection, root, context, parentID: reseller.id, kind: .client, name: "Dental")
            let otherReseller = try Operations.createAccount(
                connection, root, context, parentID: platform.id, kind: .reseller, name: "Rival")
            let otherClient = try Operations.createAccount(
                connection, root, context, parentID: otherReseller.id, kind: .client, name: "Bakery")
            var keys: [Actor: String] = [.platformOperator: operatorKey]
            var users: [Actor: UUID] = [.platformOperator: operatorUser.id]
            let members: [(Actor, AccountRecord, Role)] = [
                (.platformBilling, platform, .billing), (.resellerAdmin, reseller, .admin),
                (.resellerBilling, reseller, .billing), (.resellerSupport, reseller, .support),
                (.clientAdmin, client, .admin), (.clientUser, client, .user), (.clientReadonly, client, .readonly),
                (.otherResellerAdmin, otherReseller, .admin),
            ]
            for (actor, account, role) in members {
                let user = try UserStore.createUser(connection, account: account, name: actor.rawValue, email: nil, role: role)
                keys[actor] = try UserStore.createKey(connection, user: user, label: "test").secret
                users[actor] = user.id
            }
            return Fixture(
                platform: platform, reseller: reseller, client: client, otherReseller: otherReseller,
                otherClient: otherClient, keys: keys, users: users)
        }
    }
}

/// A raw reply, for the tests that must speak below the generated client (malformed bodies,
/// missing headers, unknown fields). Bodies are read as the contract's types, never as
/// untyped dictionaries.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    /// The body as the contract's `T`.
    func decode<T: Decodable>(_: T.Type = T.self) throws -> T { try JSONDecoder.contract.decode(T.self, from: body) }
    var error: Components.Schemas._Error._ErrorPayload? { try? decode(Components.Schemas._Error.self).error }
    var errorCode: String? { error?.code }
    /// The field or parameter the error names.
    var errorField: String? { error?.detail("field") }
    var replayed: Bool { headers[HTTPField.Name("Idempotent-Replayed")!] == "true" }
    /// The id of the object the reply carries, as it appears in a path (a UUID or an entry number).
    var id: String { (try? decode(Identified.self).id) ?? "" }
    var text: String { String(decoding: body, as: UTF8.self) }

    private struct Identified: Decodable {
        let id: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let number = try? container.decode(Int64.self, forKey: .id) { id = String(number) }
            else { id = try container.decode(String.self, forKey: .id) }
        }

        enum CodingKeys: String, CodingKey { case id }
    }
}

/// Drives the real router in-process.
struct API {
    let client: any TestClientProtocol

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ path: String, key: String?, body: [String: Any]? = nil,
        rawBody: String? = nil, idempotencyKey: String? = UUID().uuidString
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if method != .get, let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        headers[.contentType] = "application/json"
        var buffer: ByteBuffer? = nil
        if let body { buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)) }
        if let rawBody { buffer = ByteBuffer(string: rawBody) }
        return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
            Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }

    /// An account's balance in `unit`, read through the generated client.
    func balance(_ account: UUID, _ unit: CreditUnit, key: String) async throws -> (
        posted: Int64, reserved: Int64, available: Int64
    ) {
        let balances = try await typed(key).getBalances(path: .init(id: account.objectID)).ok.body.json.balances
        let row = try #require(balances.first { $0.unit.rawValue == unit.rawValue })
        return (row.posted, row.reserved, row.available)
    }
}

/// Expects `creditdesk verify`'s invariants to hold on the test's database.
func verifyClean(_ pool: DatabasePool) async throws {
    let violations = try await pool.withTransaction(isolation: .repeatableRead) { try VerifyStore.verify($0) }
    #expect(violations.isEmpty, "\(violations)")
}

/// Runs `body` against a fresh database with the fixture and the real router.
func withAPI(
    messaging: MessagingSettings? = nil, metricsToken: String? = nil,
    _ body: @escaping @Sendable (API, Fixture, DatabasePool) async throws -> Void
) async throws {
    try await withTestDatabase(poolSize: 8) { pool in
        let fixture = try await Fixture.make(pool)
        let migrator = try await TestCluster.shared.ready().migrator
        var dependencies = AppDependencies(pool: pool, migrator: migrator)
        if let messaging { dependencies.messaging = messaging }
        dependencies.metricsToken = metricsToken
        let app = Application(router: try buildRouter(dependencies: dependencies))
        try await app.test(.router) { client in
            try await body(API(client: client), fixture, pool)
        }
    }
}
