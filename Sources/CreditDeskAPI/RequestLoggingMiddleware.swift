import CreditDeskConsole
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// Gives every request an id, logs one JSON line per request (method, path, status, duration),
/// and turns every error into the API's JSON error shape, so no route can leak a bare 500 page.
struct RequestLoggingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    static let requestIDField = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let requestID = Self.acceptableID(request.headers[Self.requestIDField]) ?? UUID().uuidString.lowercased()
        context.requestID = requestID
        context.logger[metadataKey: "request.id"] = "\(requestID)"
        let start = ContinuousClock.now
        var response: Response
        var request = request
        do {
            // Buffered once, within its route's limit: the generated decoders read a body
            // whole and without a limit of their own, and an error can still name its field.
            context.body = try await request.collectBody(upTo: Self.bodyLimit(request.uri.path, context))
            if context.body.readableBytes == 0, request.method != .get, request.uri.path.hasPrefix("/v1/"),
                !request.uri.path.hasPrefix("/v1/callbacks/")
            {
                // The contract's rule: an empty body is `{}` (a void, a cancel, a revoke need none).
                context.body = ByteBuffer(string: "{}")
                request.body = RequestBody(buffer: context.body)
            }
            response = try await next(request, context)
        } catch {
            response = Self.response(for: error, request: request, context: context)
        }
        response.headers[Self.requestIDField] = requestID
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        context.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method.rawValue)",
                "http.path": "\(Self.loggedPath(request.uri.path))",
                "http.status": "\(response.status.code)",
                "http.duration_ms": "\(String(format: "%.2f", milliseconds))",
            ])
        return response
    }

    /// The path as logged: a one-time password link's token is a secret, and stays out.
    static func loggedPath(_ path: String) -> String {
        path.hasPrefix("/console/password/") ? "/console/password/[token]" : path
    }

    /// A caller's id is kept only if it is short and plain, so it cannot forge log content.
    static func acceptableID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.count),
            value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
        else { return nil }
        return value
    }

    /// Bulk reservations and contact batches may be megabytes; every other body is small.
    static func bodyLimit(_ path: String, _ context: Context) -> Int {
        if path.hasSuffix("/reservations/bulk") { return Limits.maxBulkBodyBytes }
        if path.hasSuffix("/contacts/batch") || path.hasSuffix("/members") || path == "/console/contacts/import" {
            return Limits.maxBatchBodyBytes
        }
        return context.maxUploadSize
    }

    static func response(for error: any Error, request: Request, context: Context) -> Response {
        let apiError: APIError
        switch error {
        case let error as ServerError where error.operationInput != nil:
            // The handler ran and threw: its own error, mapped like any other.
            return response(for: error.underlyingError, request: request, context: context)
        case let error as ServerError:
            apiError = ContractErrors.apiError(error, request: request, body: context.body)
        case let error as APIError:
            apiError = error
        case let error as DomainError:
            apiError = ErrorMapping.apiError(error)
        case let error as DatabaseError:
            if let mapped = ErrorMapping.apiError(error) {
                if mapped.status == .serviceUnavailable {
                    context.logger.warning("database unavailable", metadata: ["error": "\(error)"])
                }
                apiError = mapped
            } else {
                context.logger.error("unhandled database error", metadata: ["error": "\(error)"])
                apiError = .internalError
            }
        case let error as HTTPError where error.status == .notFound:
            // No route matched: a path that exists with other methods is 405 and says which.
            let allowed = OpenAPIController.methods(at: request.uri.path)
            if allowed.isEmpty {
                apiError = APIError(.notFound, code: "not_found", message: "no such route")
            } else {
                var response = Self.render(
                    APIError(
                        .methodNotAllowed, code: "method_not_allowed",
                        message: "\(request.method.rawValue) is not allowed here; allowed: \(allowed.joined(separator: ", "))",
                        details: ["allowed": .array(allowed.map(JSONValue.string))]),
                    request: request, context: context)
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
        case let error as HTTPError:
            // Hummingbird's own errors: body too large, undecodable body …
            apiError = APIError(
                error.status, code: Self.code(for: error.status), message: error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            apiError = APIError(error.status, code: Self.code(for: error.status), message: error.status.reasonPhrase)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            apiError = .internalError
        }
        return render(apiError, request: request, context: context)
    }

    static func render(_ error: APIError, request: Request, context: Context) -> Response {
        // The console's visitors are people: an error page, not JSON (the same words, the same status).
        if request.uri.path == "/console" || request.uri.path.hasPrefix("/console/") {
            return ConsoleErrorPage.response(request, status: error.status, message: error.message)
        }
        return (try? error.response(from: request, context: context)) ?? Response(status: .internalServerError)
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .badRequest: "invalid_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        default: status.code >= 500 ? "internal" : "http_\(status.code)"
        }
    }
}
