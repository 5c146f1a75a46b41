import CreditDeskContract
import CreditDeskDB
import CreditDeskServices
import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime
import Testing

@testable import CreditDeskAPI

@Suite("OpenAPI contract")
struct OpenAPITests {
    /// Every `router.<method>("<path>")` registered in the API sources.
    static func registeredRoutes() throws -> Set<String> {
        let directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/Sources/CreditDeskAPI")
        var routes = Set<String>()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".swift") {
            let source = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            for match in source.matches(of: /router\.(get|post|put|patch|delete)\("([^"]+)"\)/) {
                let path = String(match.2).replacing(/:([a-z_]+)/) { "{\($0.1)}" }
                routes.insert("\(match.1) \(path)")
            }
        }
        return routes
    }

    /// Every operation the generated server registers (the compiler holds `APIHandlers` to
    /// all of them), read off a transport that only records.
    static func generatedRoutes() async throws -> Set<String> {
        final class Recorder: ServerTransport, @unchecked Sendable {
            var routes = Set<String>()
            func register(
                _ handler: @Sendable @escaping (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (
                    HTTPResponse, HTTPBody?
                ), method: HTTPRequest.Method, path: String
            ) throws {
                routes.insert("\(method.rawValue.lowercased()) \(path)")
            }
        }
        let recorder = Recorder()
        // Never connects: registering only builds the routes.
        let pool = DatabasePool(
            settings: PoolSettings(connection: ConnectionSettings(url: "postgresql://unused"), size: 1),
            logger: Logger(label: "test"))
        let handlers = APIHandlers(
            access: Access(pool: pool), messaging: MessagingSettings(secretBox: nil, publicBaseURL: "http://127.0.0.1"))
        try handlers.registerHandlers(on: recorder, serverURL: URL(string: "/")!)
        await pool.shutdown()
        return recorder.routes
    }

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    @Test("every operation is served, by the generated server or a plain route, and nothing else is")
    func coverage() async throws {
        let plain = try Self.registeredRoutes()
        let generated = try await Self.generatedRoutes()
        #expect(plain.isDisjoint(with: generated), "served twice: \(plain.intersection(generated).sorted())")
        let registered = plain.union(generated)
        let documented = Set(OpenAPIController.operations.map { "\($0.method) \($0.path)" })
        #expect(generated.count > 50)
        #expect(registered.subtracting(documented).isEmpty, "undocumented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but missing: \(documented.subtracting(registered).sorted())")
    }

    @Test("OpenAPI 3.1; an Idempotency-Key on every mutation but gateway callbacks; callbacks and health are public")
    func shape() throws {
        #expect(try Self.document()["openapi"] as? String == "3.1.0")
        for operation in OpenAPIController.operations {
            let name = "\(operation.method) \(operation.path)"
            let isCallback = operation.path.hasPrefix("/v1/callbacks/")
            let isHealth = ["/healthz", "/readyz", "/openapi.json"].contains(operation.path)
            #expect(operation.isPublic == (isCallback || isHealth), "\(name)")
            let needsKey = operation.method != "get" && !isCallback
            #expect((operation.parameters["header"] ?? []).contains("Idempotency-Key") == needsKey, "\(name)")
        }
    }

    @Test("every {name} in a path is declared as a path parameter; operation ids are unique")
    func parameters() throws {
        var ids = Set<String>()
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        for operation in OpenAPIController.operations {
            let names = operation.path.matches(of: /\{([a-z_]+)\}/).map { String($0.1) }
            #expect((operation.parameters["path"] ?? []).sorted() == names.sorted(), "\(operation.method) \(operation.path)")
            let entry = paths[operation.path]?[operation.method] as? [String: Any]
            let id = try #require(entry?["operationId"] as? String)
            #expect(ids.insert(id).inserted, "\(id) twice")
        }
        #expect(OpenAPIController.queryParameters["/v1/callbacks/kannel/{gateway}/dlr"] == ["message", "status", "signature"])
        #expect(OpenAPIController.queryParameters["/v1/accounts/{id}/entries"]?.contains("cursor") == true)
    }

    @Test("the success status of each route is the contract's")
    func successStatuses() throws {
        let created = Set(OpenAPIController.operations.filter { $0.successStatus == 201 }.map { "\($0.method) \($0.path)" })
        #expect(created.contains("post /v1/accounts") && created.contains("post /v1/accounts/{id}/charges"))
        let accepted = Set(OpenAPIController.operations.filter { $0.successStatus == 202 }.map { "\($0.method) \($0.path)" })
        #expect(
            accepted == [
                "post /v1/accounts/{id}/messages", "post /v1/campaigns/{id}/test",
                "post /v1/accounts/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            ])
    }
}

@Suite("OpenAPI document served")
struct OpenAPIServedTests {
    @Test("GET /openapi.json serves the contract, without a key")
    func served() async throws {
        try await withAPI { api, _, _ in
            let reply = try await api.call(.get, "/openapi.json", key: nil)
            #expect(reply.status == .ok)
            let served = try #require(try JSONSerialization.jsonObject(with: reply.body) as? NSDictionary)
            #expect(served == (try OpenAPITests.document()) as NSDictionary)
            #expect((served["paths"] as? NSDictionary)?.count == Set(OpenAPIController.operations.map(\.path)).count)
        }
    }
}
