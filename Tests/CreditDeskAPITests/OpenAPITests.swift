import Foundation
import Testing

@testable import CreditDeskAPI

@Suite("OpenAPI document")
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

    @Test("every registered route is documented, and nothing else is")
    func coverage() throws {
        let registered = try Self.registeredRoutes()
        let documented = Set(OpenAPIController.operations.map { "\($0.method) \($0.path)" })
        #expect(registered.count > 25)
        #expect(registered.subtracting(documented).isEmpty, "undocumented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but missing: \(documented.subtracting(registered).sorted())")
    }

    @Test("the document is OpenAPI 3.1 JSON with an Idempotency-Key on every mutation but gateway callbacks")
    func shape() throws {
        let data = try JSONResponse.encoder.encode(OpenAPIController.document)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["openapi"] as? String == "3.1.0")
        let paths = try #require(object["paths"] as? [String: [String: Any]])
        for (path, methods) in paths {
            for (method, operation) in methods where method != "get" {
                let parameters = (operation as? [String: Any])?["parameters"] as? [[String: Any]] ?? []
                // Gateways cannot send our headers; their callbacks are idempotent by state.
                let isCallback = path.hasPrefix("/v1/callbacks/")
                #expect(parameters.contains { $0["name"] as? String == "Idempotency-Key" } != isCallback, "\(method) \(path)")
                #expect(((operation as? [String: Any])?["security"] as? [Any])?.isEmpty == isCallback ? true : !isCallback)
            }
        }
    }
}

@Suite("OpenAPI parameters")
struct OpenAPIParameterTests {
    @Test("every {name} in a path is declared as a required path parameter with a type")
    func pathParameters() throws {
        let data = try JSONResponse.encoder.encode(OpenAPIController.document)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(object["paths"] as? [String: [String: Any]])
        var checked = 0
        for (path, methods) in paths {
            let names = Set(path.matches(of: /\{([a-z_]+)\}/).map { String($0.1) })
            for (method, operation) in methods {
                let parameters = (operation as? [String: Any])?["parameters"] as? [[String: Any]] ?? []
                let declared = parameters.filter { $0["in"] as? String == "path" }
                #expect(Set(declared.compactMap { $0["name"] as? String }) == names, "\(method) \(path)")
                for parameter in declared {
                    #expect(parameter["required"] as? Bool == true)
                    #expect((parameter["schema"] as? [String: Any])?["type"] != nil, "\(method) \(path)")
                    checked += 1
                }
            }
        }
        #expect(checked > 50)
        let callback = try #require(paths["/v1/callbacks/kannel/{gateway}/dlr"]?["get"] as? [String: Any])
        let queries = (callback["parameters"] as? [[String: Any]] ?? []).filter { $0["in"] as? String == "query" }
        #expect(Set(queries.compactMap { $0["name"] as? String }) == ["message", "status", "signature"])
    }
}
