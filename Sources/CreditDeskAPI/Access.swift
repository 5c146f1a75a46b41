import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// What the middleware learnt about the request, for the generated handlers, which see only
/// their typed input: who is calling, the request's id, method and path.
struct RequestScope: Sendable {
    @TaskLocal static var current: RequestScope?

    let requestID: String
    let auth: AuthenticatedKey?
    let method: String
    let path: String
    /// As sent: the generated parser would percent-decode it (and make a malformed escape
    /// an empty string), but a key is an opaque token, compared byte for byte.
    let idempotencyKey: String?
    /// The peer's IP address, for the audit log.
    let sourceAddress: String
    let logger: Logger

    /// Through which key and from where the request came, as the audit log records it.
    var origin: RequestOrigin {
        RequestOrigin(channel: .api, keyID: auth?.keyID, sourceAddress: sourceAddress)
    }
}

/// Authenticated access to the database for the handlers: reads in a plain transaction,
/// mutations in an idempotent one. Results travel as the contract's types.
struct Access: Sendable {
    let pool: DatabasePool

    static func scope() throws -> RequestScope {
        guard let scope = RequestScope.current else { throw APIError.missingKey }
        return scope
    }

    static func principal() throws -> AuthenticatedKey {
        guard let auth = try scope().auth else { throw APIError.missingKey }
        return auth
    }

    /// A read: runs `work` with the principal in a read-only transaction; `work` builds the
    /// contract's type from the records itself (see Contract+Records.swift). A read of one
    /// round trip (its statements sent together) needs no transaction: `transaction: false`
    /// saves the BEGIN and COMMIT around it.
    func read<Wire: Sendable>(
        transaction: Bool = true, _ work: @escaping @Sendable (PostgresConnection, Principal) throws -> Wire
    ) async throws -> Wire {
        let principal = try Self.principal().principal
        guard transaction else { return try await pool.withConnection { try work($0, principal) } }
        return try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            try work(connection, principal)
        }
    }

    /// A mutation: requires the request's Idempotency-Key, then runs as `IdempotentMutation`
    /// (the key's claim, the work and the recorded response commit together). The request's fingerprint is its method, path and `input`
    /// (a typed body, so key order and white space do not matter), or `fingerprint` as given.
    /// A replay answers the recorded JSON, decoded into `Wire` like a fresh answer.
    func mutate<Wire: Codable & Sendable>(
        _ answer: Wire.Type, input: (some Encodable)?, fingerprint: [UInt8]? = nil, status: HTTPResponse.Status = .ok,
        _ work: @escaping @Sendable (PostgresConnection, Principal, OperationContext) throws -> Wire
    ) async throws -> (Wire, replayed: Components.Headers.IdempotentReplayed?) {
        let scope = try Self.scope()
        let auth = try Self.principal()
        let principal = auth.principal
        let key = try Validate.idempotencyKey(scope.idempotencyKey)
        if auth.accountSuspended {
            throw APIError(.forbidden, code: "account_suspended", message: "your account is suspended; it can only read")
        }
        var bytes = Array("\(scope.method) \(scope.path)\n".utf8)
        if let fingerprint {
            bytes += fingerprint
        } else if let input {
            bytes += try WireCoding.canonicalEncoder.encode(input)
        }
        let outcome = try await IdempotentMutation.run(
            pool: pool, principal: principal, origin: scope.origin, key: key,
            requestHash: Digest.hex(Digest.sha256(bytes)),
            requestID: scope.requestID, status: Int(status.code), render: Self.render
        ) { connection, operation in
            try work(connection, principal, operation)
        }
        return (try WireCoding.decoder.decode(Wire.self, from: Data(outcome.body.utf8)), outcome.replayed ? ._true : nil)
    }

    /// A result as JSON; a secret shown once is left out of what a replay can answer.
    @Sendable static func render(_ value: some Encodable) throws -> IdempotentMutation.Rendering {
        let body = String(decoding: try JSONResponse.encoder.encode(value), as: UTF8.self)
        let replayBody = try (value as? any OneTimeSecretResponse).map {
            String(decoding: try JSONResponse.encoder.encode($0.withoutSecret), as: UTF8.self)
        }
        return IdempotentMutation.Rendering(body: body, replayBody: replayBody)
    }
}

/// JSON between the service results and the contract's types.
enum WireCoding {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            guard let date = ISO8601.parse(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 timestamp")
            }
            return date
        }
        return decoder
    }()

    /// Sorted keys, so the same request always has the same fingerprint.
    static let canonicalEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.format(date))
        }
        return encoder
    }()
}

/// A response carrying a secret that is shown once (an API key, a callback token). The copy
/// stored for replays is `withoutSecret`: the secret left out and `secret_not_replayable`
/// set, so a retried request learns the object exists but never sees the secret again.
protocol OneTimeSecretResponse: Encodable {
    var withoutSecret: Self { get }
}

/// Resolves `Authorization: Bearer …` to a principal and opens the request's scope. Requests
/// without a valid key get 401, except the public health and documentation routes.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pool: DatabasePool
    let keys: KeyCache
    let trustedProxies: [AddressRange]
    /// `/metrics` checks a token of its own (`CREDITDESK_METRICS_TOKEN`), not an API key.
    static let publicPaths: Set<String> = ["/healthz", "/readyz", "/openapi.json", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        if !trustedProxies.isEmpty, let peer = context.peer?.ipAddress {
            let client = ClientAddress.resolve(
                peer: peer, forwardedFor: request.headers[.xForwardedFor], trustedProxies: trustedProxies)
            if client != peer { context.forwardedClient = client }
        }
        // Gateways' callbacks authenticate with their connection's token or a signature instead.
        // The console signs its users in with sessions of its own.
        let path = request.uri.path
        let isConsole = path == "/" || path == "/console" || path.hasPrefix("/console/")
        if !(Self.publicPaths.contains(path) || path.hasPrefix("/v1/callbacks/") || isConsole) {
            let auth = try await authenticate(request)
            context.auth = auth
            context.logger[metadataKey: "auth.user_id"] = "\(auth.principal.userID)"
            try Self.admit(auth.limits, method: request.method.rawValue, path: path, from: context.remoteAddress)
        }
        let scope = RequestScope(
            requestID: context.requestID, auth: context.auth, method: request.method.rawValue, path: request.uri.path,
            idempotencyKey: request.headers[.idempotencyKey], sourceAddress: context.remoteAddress,
            logger: context.logger)
        return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
    }

    /// Whether the key's limits let this request through: its address ranges, then its scope
    /// against what the contract's operation accepts (`x-key-scopes`).
    static func admit(_ limits: KeyLimits, method: String, path: String, from address: String) throws {
        guard limits.admits(address) else {
            throw APIError(.forbidden, code: "address_not_allowed", message: "this API key may not be used from \(address)")
        }
        guard limits.scope != .full, let operation = OpenAPIController.operation(method: method, path: path) else {
            return
        }
        guard operation.keyScopes.contains(limits.scope.rawValue) else {
            throw APIError(
                .forbidden, code: "insufficient_scope",
                message: "a \(limits.scope.rawValue) key may not do this; it needs a key of scope \(operation.keyScopes.sorted().joined(separator: " or "))",
                details: ["scope": .string(limits.scope.rawValue)])
        }
    }

    func authenticate(_ request: Request) async throws -> AuthenticatedKey {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError.missingKey
        }
        let secret = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        // Database trouble propagates as is: the logging middleware maps it (503) and logs it.
        let auth = try await keys.authenticate(secret: secret, pool: pool)
        guard let auth else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the API key is unknown, revoked or expired")
        }
        return auth
    }
}
