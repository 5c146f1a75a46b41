import CreditDeskContract
import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime

/// `POST /v1/accounts/{id}/reservations/bulk` with a body `BulkReservationBody` reads in one
/// pass: the same handler as the generated route, called with the same typed input, and its
/// answer written as the generated server writes it (201, `Idempotent-Replayed`, the same
/// JSON). Every other request, a bulk one in any other form included, goes on to the
/// generated route, which stays the contract's only judge of what is valid.
struct BulkReservationRoute: RouterMiddleware {
    typealias Context = AppRequestContext
    let handlers: APIHandlers

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.method == .post, let accountID = Self.accountID(request.uri.path),
            Self.isJSON(request.headers[.contentType]), Self.acceptsJSON(request.headers[values: .accept]),
            let key = request.headers[.idempotencyKey],
            let body = BulkReservationBody.parse(context.body)
        else { return try await next(request, context) }
        let output = try await handlers.reserveCreditsInBulk(
            .init(path: .init(id: ObjectID(accountID)), headers: .init(idempotencyKey: key), body: .json(body)))
        guard case .created(let created) = output, case .json(let batch) = created.body else { throw APIError.internalError }
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if created.headers.idempotentReplayed != nil { headers[HTTPField.Name("Idempotent-Replayed")!] = "true" }
        return Response(
            status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(batch))))
    }

    /// The generated server's encoder (Configuration.creditDesk): sorted keys, no escaped slashes, RFC 3339 times.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let transcoder = RFC3339DateTranscoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try transcoder.encode(date))
        }
        return encoder
    }()

    /// The account of `/v1/accounts/{uuid}/reservations/bulk`, written plainly.
    static func accountID(_ path: String) -> UUID? {
        guard path.hasSuffix("/reservations/bulk") else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "v1", parts[2] == "accounts", parts[4] == "reservations",
            parts[5] == "bulk"
        else { return nil }
        return UUID(uuidString: String(parts[3]))
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces).lowercased()
        return type == "application/json"
    }

    /// No Accept header, or one that plainly takes JSON.
    static func acceptsJSON(_ values: [String]) -> Bool {
        values.isEmpty
            || values.contains { value in
                value.split(separator: ",").contains {
                    let type = $0.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces).lowercased()
                    return type == "application/json" || type == "*/*" || type == "application/*"
                }
            }
    }
}
