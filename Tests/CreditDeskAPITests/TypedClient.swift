import CreditDeskContract
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OpenAPIRuntime

/// The generated client over the in-process router: tests call the API with the contract's
/// own types, as an integrator's generated client would.
struct RouterClientTransport: ClientTransport {
    let client: any TestClientProtocol

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (
        HTTPResponse, HTTPBody?
    ) {
        var buffer: ByteBuffer? = nil
        if let body { buffer = ByteBuffer(bytes: try await [UInt8](collecting: body, upTo: 64 * 1024 * 1024)) }
        let response = try await client.executeRequest(
            uri: request.path ?? "/", method: request.method, headers: request.headerFields, body: buffer)
        return (
            HTTPResponse(status: response.status, headerFields: response.headers),
            HTTPBody(Array(response.body.readableBytesView))
        )
    }
}

/// Sends the caller's API key on every request.
struct BearerMiddleware: ClientMiddleware {
    let key: String

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(key)"
        return try await next(request, body, baseURL)
    }
}

extension API {
    /// The generated client, acting with `key`.
    func typed(_ key: String?) -> Client {
        Client(
            serverURL: URL(string: "http://localhost")!, configuration: .creditDesk,
            transport: RouterClientTransport(client: client), middlewares: key.map { [BearerMiddleware(key: $0)] } ?? [])
    }
}

/// The contract's operations (`Operations` alone also names the services layer's).
typealias Endpoints = CreditDeskContract.Operations

/// A fresh idempotency key.
func freshKey() -> String { UUID().uuidString }

extension JSONDecoder {
    /// Decodes the contract's types as the generated client does (RFC 3339 times).
    static var contract: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            try RFC3339DateTranscoder().decode(try decoder.singleValueContainer().decode(String.self))
        }
        return decoder
    }
}

extension Components.Schemas._Error._ErrorPayload {
    /// One fact of `details` as text (`field`, `available`, `requested`, …).
    func detail(_ key: String) -> String? {
        guard let value = details?.additionalProperties.value[key], let value else { return nil }
        return "\(value)"
    }
}

/// The contract's error inside any typed answer, whatever status it came with: an answer is an
/// enum of documented statuses whose error cases all carry the same `Error` schema.
func contractError(_ output: Any) -> Components.Schemas._Error._ErrorPayload? {
    if let error = output as? Components.Schemas._Error { return error.error }
    for child in Mirror(reflecting: output).children {
        if let found = contractError(child.value) { return found }
    }
    return nil
}
