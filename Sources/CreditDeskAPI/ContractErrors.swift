import CreditDeskCore
import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime

/// A request the generated server could not turn into its typed input: a body that does not
/// match its schema, a malformed path or query parameter, a missing header. The runtime would
/// answer these with a bodyless status; here they get the API's JSON error naming the field.
enum ContractErrors {
    static func apiError(_ error: ServerError, request: Request, body: ByteBuffer) -> APIError {
        let operation = OpenAPIController.operation(method: request.method.rawValue, path: request.uri.path)
        if let decoding = error.underlyingError as? DecodingError {
            // The runtime's errors for a path or query value carry no name: find it by the rules.
            if let name = operation?.invalidParameter(path: request.uri.path, query: request.uri.query) {
                return APIError.badRequest(
                    code: "invalid_parameter", "\(name) has an invalid value", details: ["field": .string(name)])
            }
            let data = Data(body.readableBytesView)
            // A member no schema has is named first, as a misspelt field is the likelier mistake
            // than the required one it leaves missing.
            if let fields = operation?.bodyFields, let sent = try? Body.keyReader.decode(Body.TopLevelKeys.self, from: data),
                let unknown = sent.keys.sorted().first(where: { !fields.contains($0) })
            {
                return APIError.badRequest(
                    code: "unknown_field", "unknown field \(unknown)", details: ["field": .string(unknown)])
            }
            return Body.fieldError(decoding, body: data)
        }
        if operation?.parameters["header"]?.contains("Idempotency-Key") == true, request.headers[.idempotencyKey] == nil {
            do { _ = try Validate.idempotencyKey(nil) } catch { return ErrorMapping.apiError(error) }
        }
        let description = error.causeDescription
        if let name = description.split(separator: "Missing required query parameter named: ").last,
            description.hasPrefix("Missing required query parameter")
        {
            return APIError.badRequest(
                code: "invalid_parameter", "\(name) is required", details: ["field": .string(String(name))])
        }
        let status = error.httpStatus.code == 500 ? HTTPResponse.Status.badRequest : error.httpStatus
        return APIError(status, code: RequestLoggingMiddleware.code(for: status), message: description)
    }
}
