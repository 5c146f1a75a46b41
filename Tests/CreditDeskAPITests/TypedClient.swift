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

/// A fresh idempotency key.
func freshKey() -> String { UUID().uuidString }
