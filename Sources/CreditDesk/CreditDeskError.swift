import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import Foundation

/// Why an operation was refused. The `code` is the same stable code the JSON API answers;
/// switch on it. Nothing was changed by an operation that throws this.
public struct CreditDeskError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable reason: `insufficient_credits`, `forbidden`, `not_found` …
    public let code: String
    /// For people; may change between versions.
    public let message: String
    /// Facts about the failure, such as `field`, `available` or `requested`, as text.
    public let details: [String: String]

    /// The code and the message.
    public var description: String { "\(code): \(message)" }

    /// Not enough credits; `details` has `available` and `requested`.
    public static let insufficientCredits = "insufficient_credits"
    /// The principal's role or place in the tree does not allow the operation.
    public static let forbidden = "forbidden"
    /// No such object, or not one the principal can see.
    public static let notFound = "not_found"
    /// A value was refused; `details["field"]` names it.
    public static let invalidRequest = "invalid_request"
    /// The same idempotency key was used for a different request.
    public static let idempotencyConflict = "idempotency_conflict"
    /// A feature such as MMS is not enabled for the account.
    public static let featureDisabled = "feature_disabled"
    /// The database could not be reached; retrying later with the same key is safe.
    public static let databaseUnavailable = "database_unavailable"
    /// A manual movement above its account's approval threshold: nothing moved; it waits, as
    /// the request `details["approval_id"]`, for a second admin.
    public static let approvalPending = "approval_pending"
}

extension CreditDeskError {
    init(code: String, message: String) { self.init(code: code, message: message, details: [:]) }

    /// The services' failure as the library's: a domain refusal keeps its code and facts; a
    /// database failure a caller can act on gets its stable code; anything else is `internal`.
    init(_ error: any Error) {
        switch error {
        case let error as DomainError:
            var details = [String: String]()
            for (key, value) in error.details {
                switch value {
                case .string(let text): details[key] = text
                case .int(let number): details[key] = String(number)
                }
            }
            self.init(code: error.code.rawValue, message: error.message, details: details)
        case let error as DatabaseError:
            if let failure = DatabaseFailure(error) {
                self.init(code: failure.code, message: failure.message)
            } else {
                self.init(code: "internal", message: "internal database error: \(error.code)")
            }
        default:
            self.init(code: "internal", message: "internal error: \(type(of: error))")
        }
    }
}
