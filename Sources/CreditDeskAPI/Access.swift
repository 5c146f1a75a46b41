import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Hummingbird

/// Authenticated access to the database for route handlers: reads in a plain transaction,
/// mutations in an idempotent one.
struct Access: Sendable {
    let pool: DatabasePool

    func principal(_ context: AppRequestContext) throws -> AuthenticatedKey {
        guard let auth = context.auth else {
            throw APIError(.unauthorized, code: "unauthorized", message: "send Authorization: Bearer <api key>")
        }
        return auth
    }

    /// A read: runs `work` with the principal in a read-only transaction.
    func read<T: Encodable & Sendable>(
        _ context: AppRequestContext,
        _ work: @escaping @Sendable (PostgresConnection, Principal) throws -> T
    ) async throws -> Response {
        let principal = try principal(context).principal
        let value = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            try work(connection, principal)
        }
        return try JSONResponse.make(status: .ok, body: value)
    }

    /// A mutation: requires an Idempotency-Key, then runs as `IdempotentMutation` (the key's
    /// claim, the work and the recorded response commit together).
    func mutate<T: Encodable & Sendable>(
        _ request: Request, _ context: AppRequestContext, body: [UInt8], canonicalBody: [UInt8]? = nil,
        status: HTTPResponse.Status = .ok,
        _ work: @escaping @Sendable (PostgresConnection, Principal, OperationContext) throws -> T
    ) async throws -> Response {
        let auth = try principal(context)
        let principal = auth.principal
        let key = try Validate.idempotencyKey(request.headers[.idempotencyKey])
        if auth.accountSuspended {
            throw APIError(.forbidden, code: "account_suspended", message: "your account is suspended; it can only read")
        }
        var fingerprint = Array("\(request.method.rawValue) \(request.uri.path)\n".utf8)
        fingerprint += canonicalBody ?? Self.canonicalJSON(body)
        let requestHash = Digest.hex(Digest.sha256(fingerprint))
        let outcome = try await IdempotentMutation.run(
            pool: pool, principal: principal, key: key, requestHash: requestHash, requestID: context.requestID,
            status: Int(status.code), render: Self.render
        ) { connection, operation in
            try work(connection, principal, operation)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if outcome.replayed { headers[.idempotentReplayed] = "true" }
        return Response(
            status: HTTPResponse.Status(code: outcome.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: outcome.body + "\n")))
    }

    /// A result as JSON; a secret shown once is left out of what a replay can answer.
    @Sendable static func render(_ value: some Encodable) throws -> IdempotentMutation.Rendering {
        let body = String(decoding: try JSONResponse.encoder.encode(value), as: UTF8.self)
        let replayBody = try (value as? any OneTimeSecretResponse).map {
            String(decoding: try JSONResponse.encoder.encode($0.withoutSecret), as: UTF8.self)
        }
        return IdempotentMutation.Rendering(body: body, replayBody: replayBody)
    }

    /// The body with object keys sorted, so a retry that serializes the same JSON differently
    /// (key order, whitespace) is still recognised as the same request.
    static func canonicalJSON(_ body: [UInt8]) -> [UInt8] {
        guard !body.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
        else { return body }
        return Array(data)
    }
}

/// A response carrying a secret that is shown once (an API key, a callback token). The copy
/// stored for replays is `withoutSecret`: the secret left out and `secret_not_replayable`
/// set, so a retried request learns the object exists but never sees the secret again.
protocol OneTimeSecretResponse: Encodable {
    var withoutSecret: Self { get }
}

/// Resolves `Authorization: Bearer …` to a principal. Requests without a valid key get 401,
/// except the public health and documentation routes.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pool: DatabasePool
    static let publicPaths: Set<String> = ["/healthz", "/readyz", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // Gateways' callbacks authenticate with their connection's token or a signature instead.
        if Self.publicPaths.contains(request.uri.path) || request.uri.path.hasPrefix("/v1/callbacks/") {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, code: "unauthorized", message: "send Authorization: Bearer <api key>")
        }
        let secret = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        // Database trouble propagates as is: the logging middleware maps it (503) and logs it.
        let auth = try await pool.withConnection { try UserStore.authenticate($0, secret: secret) }
        guard let auth else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the API key is unknown or revoked")
        }
        var context = context
        context.auth = auth
        context.logger[metadataKey: "auth.user_id"] = "\(auth.principal.userID)"
        return try await next(request, context)
    }
}
