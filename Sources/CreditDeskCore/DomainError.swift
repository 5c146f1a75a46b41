/// The one error type of the domain layer. `code` is stable and reaches API clients as-is.
package struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case unauthorized, forbidden
        case notFound = "not_found"
        case invalidRequest = "invalid_request"
        case insufficientCredits = "insufficient_credits"
        case featureDisabled = "feature_disabled"
        case idempotencyConflict = "idempotency_conflict"
        case idempotencyKeyRequired = "idempotency_key_required"
        case conflict
        case accountSuspended = "account_suspended"
        case recipientOptedOut = "recipient_opted_out"
        /// The target account is of a kind this operation does not apply to (contacts on a
        /// reseller, rates on a client, an operator on a client …): a conflict with its state.
        case wrongAccountKind = "wrong_account_kind"
        /// Too many failed sign-ins for a login or from an address: wait, then try again.
        case tooManyAttempts = "too_many_attempts"
        /// A velocity cap (messages per minute): wait for `details.resets_at`, then try again.
        case rateLimited = "rate_limited"
        /// A spend cap (credits per day or month) or the destination allow-list refuses it.
        case capExceeded = "cap_exceeded"
    }

    package enum Detail: Sendable, Equatable {
        case string(String)
        case int(Int64)
    }

    package var code: Code
    package var message: String
    package var details: [String: Detail]

    package init(_ code: Code, _ message: String, details: [String: Detail] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    package var description: String { "\(code.rawValue): \(message)" }

    package static func notFound(_ what: String) -> DomainError { DomainError(.notFound, "\(what) not found") }

    /// A well-formed value that the current state or the objects' relations do not allow (more
    /// than is reserved or refundable, another reseller's package): a 409, not a malformed request.
    package static func beyondState(_ field: String, _ message: String) -> DomainError {
        DomainError(.conflict, "\(field): \(message)", details: ["field": .string(field)])
    }

    package static func wrongKind(_ field: String, _ message: String) -> DomainError {
        DomainError(.wrongAccountKind, "\(field): \(message)", details: ["field": .string(field)])
    }

    package static func invalid(_ field: String, _ message: String) -> DomainError {
        DomainError(.invalidRequest, "\(field): \(message)", details: ["field": .string(field)])
    }

    package static func insufficient(unit: CreditUnit, available: Int64, requested: Int64) -> DomainError {
        DomainError(
            .insufficientCredits, "not enough \(unit.rawValue) credits: \(available) available, \(requested) requested",
            details: ["unit": .string(unit.rawValue), "available": .int(available), "requested": .int(requested)])
    }
}
