import CreditDeskCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the contract, `openapi.yaml`, embedded as JSON at build time. The same
/// document tells the router which methods a path has (for 405) and the tests which routes,
/// parameters and answers exist, so the code and the contract cannot drift apart unnoticed.
struct OpenAPIController {
    /// One operation of the contract, as much of it as the server and its tests read.
    struct Operation: Sendable {
        let method: String
        let path: String
        let isPublic: Bool
        /// Parameter names by location: `path`, `query`, `header`.
        let parameters: [String: [String]]
        let hasBody: Bool
        let successStatus: Int
    }

    static let operations: [Operation] = parse(Array(OpenAPIDocument.json.utf8))

    /// Query parameters of each path's GET (or of a callback, which gateways call with a query).
    static let queryParameters: [String: [String]] = Dictionary(
        operations.filter { $0.method == "get" || $0.isPublic }.compactMap { operation in
            operation.parameters["query"].map { (operation.path, $0) }
        }, uniquingKeysWith: { first, _ in first })

    /// The methods documented for a concrete path (`{name}` matches one segment); empty when
    /// no route has this path at all.
    static func methods(at path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return operations.filter { operation in
            let pattern = operation.path.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { expected, actual in
                    expected.hasPrefix("{") ? !actual.isEmpty : expected == actual
                }
        }.map { $0.method.uppercased() }
    }

    static let httpMethods: Set<String> = ["get", "put", "post", "patch", "delete"]

    /// Reads the operations out of the embedded document; `$ref` parameters resolve against
    /// `components/parameters`. The document is ours, checked by the tests: a part it lacks is
    /// simply absent here.
    static func parse(_ json: [UInt8]) -> [Operation] {
        guard let document = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let paths = document["paths"] as? [String: [String: Any]]
        else { return [] }
        let shared = (document["components"] as? [String: Any])?["parameters"] as? [String: [String: Any]] ?? [:]
        func resolve(_ parameter: [String: Any]) -> [String: Any] {
            guard let reference = parameter["$ref"] as? String else { return parameter }
            return shared[String(reference.split(separator: "/").last ?? "")] ?? [:]
        }
        var operations = [Operation]()
        for (path, methods) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, value) in methods.sorted(by: { $0.key < $1.key }) where httpMethods.contains(method) {
                guard let operation = value as? [String: Any] else { continue }
                var parameters = [String: [String]]()
                for parameter in (operation["parameters"] as? [[String: Any]] ?? []).map(resolve) {
                    guard let name = parameter["name"] as? String, let location = parameter["in"] as? String else { continue }
                    parameters[location, default: []].append(name)
                }
                let statuses = (operation["responses"] as? [String: Any] ?? [:]).keys.compactMap { Int($0) }
                operations.append(
                    Operation(
                        method: method, path: path, isPublic: (operation["security"] as? [Any])?.isEmpty == true,
                        parameters: parameters, hasBody: operation["requestBody"] != nil,
                        successStatus: statuses.filter { (200..<300).contains($0) }.min() ?? 200))
            }
        }
        return operations
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
    }
}
