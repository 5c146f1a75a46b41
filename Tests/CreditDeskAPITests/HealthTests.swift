import CreditDeskAPI
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("Health and error shape")
struct HealthTests {
    func app(_ pool: DatabasePool) async throws -> some ApplicationProtocol {
        let migrator = try await TestCluster.shared.ready().migrator
        return Application(router: try buildRouter(dependencies: AppDependencies(pool: pool, migrator: migrator)))
    }

    @Test("healthz answers 200; readyz answers 200 on a migrated database")
    func ready() async throws {
        try await withTestDatabase { pool in
            try await app(pool).test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                }
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("\"migrated\""))
                }
            }
        }
    }

    @Test("readyz answers 503 while migrations are pending")
    func notMigrated() async throws {
        try await withTestDatabase(migrated: false) { pool in
            try await app(pool).test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                }
            }
        }
    }

    @Test("readyz answers 503 when the database is unreachable")
    func unreachable() async throws {
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: "postgresql://x:y@127.0.0.1:1/none"), size: 1),
            logger: Logger(label: "test"))
        try await app(pool).test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("unreachable"))
            }
        }
        await pool.shutdown()
    }

    @Test("requests without a key get the JSON error shape, and every response carries a request id")
    func errorShape() async throws {
        try await withTestDatabase { pool in
            try await app(pool).test(.router) { client in
                try await client.execute(uri: "/no/such/route", method: .get) { response in
                    #expect(response.status == .unauthorized)
                    let body = try JSONDecoder().decode([String: [String: String]].self, from: Data(buffer: response.body))
                    #expect(body["error"]?["code"] == "unauthorized")
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
                }
                try await client.execute(
                    uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "abc-123"]
                ) { response in
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!] == "abc-123")
                }
                // An id that could forge log lines is replaced, not echoed.
                try await client.execute(
                    uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "a\"b c"]
                ) { response in
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!] != "a\"b c")
                }
            }
        }
    }
}
