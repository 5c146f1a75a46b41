import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

/// Maps the lower layers' errors to the API's. Client mistakes keep their stable code;
/// database trouble becomes 503 (try again), never a bare 500 with internals.
enum ErrorMapping {
    static func apiError(_ error: DomainError) -> APIError {
        let status: HTTPResponse.Status =
            switch error.code {
            case .unauthorized: .unauthorized
            case .forbidden, .featureDisabled, .accountSuspended, .capExceeded: .forbidden
            case .notFound: .notFound
            case .invalidRequest, .idempotencyKeyRequired: .badRequest
            case .insufficientCredits, .idempotencyConflict, .conflict, .wrongAccountKind: .conflict
            case .recipientOptedOut: .unprocessableContent
            case .tooManyAttempts, .rateLimited: .tooManyRequests
            }
        var details = [String: JSONValue]()
        for (key, value) in error.details {
            switch value {
            case .string(let text): details[key] = .string(text)
            case .int(let number): details[key] = .int(number)
            }
        }
        return APIError(status, code: error.code.rawValue, message: error.message, details: details)
    }

    static func apiError(_ error: DatabaseError) -> APIError? {
        guard let failure = DatabaseFailure(error) else { return nil }
        let status: HTTPResponse.Status = failure.kind == .badValue ? .badRequest : .serviceUnavailable
        return APIError(status, code: failure.code, message: failure.message)
    }
}

/// What the API says about a body it could not decode: the field, named as sent.
enum Body {
    /// Keys exactly as sent, for the unknown-field check.
    static let keyReader = JSONDecoder()

    /// The whole body, refused with 413 above the context's upload limit.
    static func collect(_ request: Request, _ context: AppRequestContext) async throws -> [UInt8] {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        return Array(buffer.readableBytesView)
    }

    /// A decoding error as the 400 naming the field: `contacts[1].mobile` (array positions in
    /// brackets, member names in snake case), `unknown_field` for a member no schema has.
    static func fieldError(_ error: DecodingError, body data: Data) -> APIError {
        var (path, problem): ([any CodingKey], String) =
            switch error {
            case .typeMismatch(let type, let context): (context.codingPath, "must be \(describe(type))")
            case .valueNotFound(_, let context): (context.codingPath, "must not be null")
            case .keyNotFound(let key, let context): (context.codingPath + [key], "is required")
            case .dataCorrupted(let context): (context.codingPath, "has an invalid value")
            @unknown default: ([], "is invalid")
            }
        var field = fieldName(path)
        if case .dataCorrupted(let context) = error, context.debugDescription.hasPrefix("Additional properties are disabled") {
            return APIError.badRequest(code: "unknown_field", "unknown field \(field)", details: ["field": .string(field)])
        }
        // Foundation reports a number no field can hold (1.5, 1e309, 2^63) without a path.
        if field.isEmpty, case .dataCorrupted = error,
            let culprit = (try? keyReader.decode(NumberProbe.self, from: data))?.firstNonWholeNumber()
        {
            field = culprit
            problem = "must be a whole number from \(Int64.min) to \(Int64.max)"
        }
        return APIError.badRequest(
            code: "invalid_field", "\(field.isEmpty ? "body" : field) \(problem)", details: ["field": .string(field)])
    }

    static func fieldName(_ path: [any CodingKey]) -> String {
        path.reduce(into: "") { field, key in
            if let index = key.intValue {
                field += "[\(index)]"
            } else {
                field += (field.isEmpty ? "" : ".") + snakeCase(key.stringValue)
            }
        }
    }

    /// A JSON value read only to find where a number is that no whole-number field can hold.
    indirect enum NumberProbe: Decodable {
        case whole, notWhole, other
        case array([NumberProbe]), object([(String, NumberProbe)])

        init(from decoder: any Decoder) throws {
            if let keyed = try? decoder.container(keyedBy: TopLevelKeys.AnyKey.self) {
                self = .object(
                    try keyed.allKeys.sorted { $0.stringValue < $1.stringValue }.map {
                        ($0.stringValue, try keyed.decode(NumberProbe.self, forKey: $0))
                    })
            } else if var unkeyed = try? decoder.unkeyedContainer() {
                var items = [NumberProbe]()
                while !unkeyed.isAtEnd { items.append(try unkeyed.decode(NumberProbe.self)) }
                self = .array(items)
            } else {
                let single = try decoder.singleValueContainer()
                if (try? single.decode(Int64.self)) != nil {
                    self = .whole
                } else if single.decodeNil() || (try? single.decode(String.self)) != nil
                    || (try? single.decode(Bool.self)) != nil
                {
                    self = .other
                } else {
                    // A fraction, or a number beyond Int64 (or beyond Double).
                    self = .notWhole
                }
            }
        }

        /// The path of the first such number, named as the decoder's errors name fields.
        func firstNonWholeNumber(prefix: String = "") -> String? {
            switch self {
            case .whole, .other: return nil
            case .notWhole: return prefix
            case .array(let items):
                return items.enumerated().lazy.compactMap { $1.firstNonWholeNumber(prefix: prefix + "[\($0)]") }.first
            case .object(let members):
                return members.lazy.compactMap { name, value in
                    value.firstNonWholeNumber(prefix: (prefix.isEmpty ? "" : prefix + ".") + name)
                }.first
            }
        }
    }

    /// The names of a JSON object's members, and nothing else of it.
    struct TopLevelKeys: Decodable {
        let keys: [String]

        struct AnyKey: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int64.Type, is Int.Type: "a whole number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "of type \(type)"
        }
    }

    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
    }
}

enum Memory {
    /// Returns freed heap pages to the system (glibc keeps them otherwise, and RSS stays at
    /// the high-water mark of the largest request).
    static func releaseFreedPages() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}

/// Gives freed heap pages back every `interval`, so that RSS returns near its idle figure
/// after a burst of load (each pool thread's allocations otherwise stay resident in the
/// arenas). One `malloc_trim` costs a few milliseconds on a heap of this size.
struct MemoryTrimmer: Service {
    var interval: Duration = .seconds(20)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                Memory.releaseFreedPages()
            }
        }
    }
}

#if os(Linux)
// <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Path and query parameters.
enum Parameters {
    static func uuid(_ context: AppRequestContext, _ name: String) throws -> UUID {
        guard let text = context.parameters.get(name), let id = UUID(uuidString: text) else {
            throw APIError.badRequest(code: "invalid_parameter", "\(name) must be a UUID", details: ["field": .string(name)])
        }
        return id
    }

    /// A path id that must be positive (ledger entries are numbered from 1).
    static func positive(_ value: Int64, _ name: String) throws -> Int64 {
        guard value > 0 else {
            throw APIError.badRequest(
                code: "invalid_parameter", "\(name) must be a positive integer", details: ["field": .string(name)])
        }
        return value
    }

    /// An optional id in a body that the contract types as text (nullable ids are not named
    /// schemas there): absent and null are nil, anything but a UUID is a 400 naming it.
    static func uuidField(_ text: String?, _ field: String) throws -> UUID? {
        guard let text else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw APIError.badRequest(code: "invalid_field", "\(field) must be a UUID", details: ["field": .string(field)])
        }
        return id
    }

    /// A free-text query parameter; empty is the same as absent.
    static func query(_ request: Request, _ name: String) -> String? {
        typed(request, name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A typed query parameter as sent: absent is nil, but an empty value is a value (and a
    /// wrong one for a number, an id, a time or an enum). The query is read as browsers and
    /// HTTP libraries write it (`application/x-www-form-urlencoded`: `+` is a space, so a
    /// phone's `+` travels as `%2B`); the first of repeated names counts.
    static func typed(_ request: Request, _ name: String) -> String? {
        RequestParsing.form(Array((request.uri.query ?? "").utf8))[name]?.first
    }

    /// A free-text search term: at most `Limits.maxNameLength` characters (names are no
    /// longer); empty is the same as absent.
    static func search(_ text: String?) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard text.count <= Limits.maxNameLength else {
            throw APIError.badRequest(
                code: "invalid_parameter", "search must be at most \(Limits.maxNameLength) characters",
                details: ["field": "search"])
        }
        return text
    }

    static func limit(_ value: Int?) throws -> Int {
        guard let value else { return Limits.defaultPageSize }
        do {
            return try Validate.pageSize(value)
        } catch {
            throw ErrorMapping.apiError(error)
        }
    }

    static func enumValue<T: RawRepresentable>(_ request: Request, _ name: String, _ type: T.Type) throws -> T?
    where T.RawValue == String {
        guard let text = typed(request, name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.badRequest(code: "invalid_parameter", "\(name) has an invalid value", details: ["field": .string(name)])
        }
        return value
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    package init(stringLiteral value: String) { self = .string(value) }
}

/// Opaque page cursors: base64url of a JSON array of strings.
enum Cursor {
    static func encode(_ parts: [String]) -> String { CursorCoding.encode(parts) }

    /// A one-part cursor (a row's id) parsed by `parse`; a part it rejects is a bad cursor.
    static func decodeKey<Key>(_ text: String?, _ parse: (String) -> Key?) throws -> Key? {
        try decode(text, count: 1).map { parts in
            guard let key = parse(parts[0]) else {
                throw foreign
            }
            return key
        }
    }

    /// A two-part cursor of a listing ordered by lower-cased name, then id.
    static func decodeNameAndID(_ text: String?) throws -> (String, UUID)? {
        try decode(text, count: 2).map { parts in
            guard let id = UUID(uuidString: parts[1]) else { throw foreign }
            return (parts[0], id)
        }
    }

    /// The error for a cursor this API did not issue (or issued for another listing).
    static let foreign = APIError.badRequest(
        code: "invalid_parameter", "cursor is not one this API issued", details: ["field": "cursor"])

    static func decode(_ text: String?, count: Int) throws -> [String]? {
        guard let text, !text.isEmpty else { return nil }
        guard let parts = CursorCoding.decode(text, count: count) else { throw foreign }
        return parts
    }
}

