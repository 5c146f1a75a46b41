import CreditDeskCore
import Foundation
import HTTPTypes
import Hummingbird
import CreditDeskContract
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
        /// The top-level members of the JSON request body (empty without a body).
        let bodyFields: Set<String>
        /// What a path or query parameter's value must be, by name.
        let parameterRules: [String: ParameterRule]
        let successStatus: Int
        /// The key scopes it accepts: `x-key-scopes`, else every scope for a GET and `full` otherwise.
        let keyScopes: Set<String>

        /// Whether a concrete path fits this operation's (`{name}` matches one segment).
        func matches(_ segments: [Substring]) -> Bool {
            let pattern = path.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { expected, actual in
                    expected.hasPrefix("{") ? !actual.isEmpty : expected == actual
                }
        }

        /// The first path or query parameter of a concrete request whose value breaks its rule.
        func invalidParameter(path concrete: String, query: String?) -> String? {
            let pattern = path.split(separator: "/", omittingEmptySubsequences: false)
            let segments = concrete.split(separator: "/", omittingEmptySubsequences: false)
            var values = [(String, String)]()
            for (expected, actual) in zip(pattern, segments) where expected.hasPrefix("{") {
                values.append((String(expected.dropFirst().dropLast()), String(actual).removingPercentEncoding ?? ""))
            }
            let form = RequestParsing.form(Array((query ?? "").utf8))
            for name in parameters["query"] ?? [] {
                if let value = form[name]?.first { values.append((name, value)) }
            }
            return values.first { name, value in !(parameterRules[name]?.accepts(value) ?? true) }?.0
        }
    }

    /// What the contract says a path or query parameter's text must be; enough to name the
    /// parameter the generated server refused (its errors do not say which).
    enum ParameterRule: Sendable, Equatable {
        case integer, uuid, dateTime, text
        case oneOf(Set<String>)

        init(_ schema: [String: Any]) {
            if let values = schema["enum"] as? [Any] {
                self = .oneOf(Set(values.compactMap { $0 as? String }))
            } else if schema["type"] as? String == "integer" {
                self = .integer
            } else if schema["format"] as? String == "uuid" {
                self = .uuid
            } else if schema["format"] as? String == "date-time" {
                self = .dateTime
            } else {
                self = .text
            }
        }

        func accepts(_ text: String) -> Bool {
            switch self {
            case .integer: Int64(text) != nil
            case .uuid: UUID(uuidString: text) != nil
            case .dateTime: ISO8601.parse(text) != nil
            case .text: true
            case .oneOf(let values): values.contains(text)
            }
        }
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
        return operations.filter { $0.matches(segments) }.map { $0.method.uppercased() }
    }

    /// The operation a concrete request addresses, if the contract has it.
    static func operation(method: String, path: String) -> Operation? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return operations.first { $0.method == method.lowercased() && $0.matches(segments) }
    }

    static let httpMethods: Set<String> = ["get", "put", "post", "patch", "delete"]

    /// Reads the operations out of the embedded document; `$ref` parameters resolve against
    /// `components/parameters`. The document is ours, checked by the tests: a part it lacks is
    /// simply absent here.
    static func parse(_ json: [UInt8]) -> [Operation] {
        guard let document = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let paths = document["paths"] as? [String: [String: Any]]
        else { return [] }
        let components = document["components"] as? [String: Any] ?? [:]
        let shared = components["parameters"] as? [String: [String: Any]] ?? [:]
        let schemas = components["schemas"] as? [String: [String: Any]] ?? [:]
        // A schema's member names, through `$ref` and `allOf`.
        func resolved(_ schema: [String: Any]) -> [String: Any] {
            guard let reference = schema["$ref"] as? String else { return schema }
            return resolved(schemas[String(reference.split(separator: "/").last ?? "")] ?? [:])
        }
        func members(_ schema: [String: Any]?) -> Set<String> {
            guard let schema = schema.map(resolved) else { return [] }
            let own = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
            return (schema["allOf"] as? [[String: Any]] ?? []).reduce(own) { $0.union(members($1)) }
        }
        func resolve(_ parameter: [String: Any]) -> [String: Any] {
            guard let reference = parameter["$ref"] as? String else { return parameter }
            return shared[String(reference.split(separator: "/").last ?? "")] ?? [:]
        }
        var operations = [Operation]()
        for (path, methods) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, value) in methods.sorted(by: { $0.key < $1.key }) where httpMethods.contains(method) {
                guard let operation = value as? [String: Any] else { continue }
                var parameters = [String: [String]]()
                var rules = [String: ParameterRule]()
                for parameter in (operation["parameters"] as? [[String: Any]] ?? []).map(resolve) {
                    guard let name = parameter["name"] as? String, let location = parameter["in"] as? String else { continue }
                    parameters[location, default: []].append(name)
                    rules[name] = ParameterRule(resolved(parameter["schema"] as? [String: Any] ?? [:]))
                }
                let statuses = (operation["responses"] as? [String: Any] ?? [:]).keys.compactMap { Int($0) }
                operations.append(
                    Operation(
                        method: method, path: path, isPublic: (operation["security"] as? [Any])?.isEmpty == true,
                        parameters: parameters, hasBody: operation["requestBody"] != nil,
                        bodyFields: members(
                            (((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"]
                                as? [String: Any])?["schema"] as? [String: Any]),
                        parameterRules: rules,
                        successStatus: statuses.filter { (200..<300).contains($0) }.min() ?? 200,
                        keyScopes: Set(
                            operation["x-key-scopes"] as? [String] ?? (method == "get" ? KeyScope.allCases.map(\.rawValue) : ["full"]))))
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
