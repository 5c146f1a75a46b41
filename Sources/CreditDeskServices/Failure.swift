import CreditDeskCore
import CreditDeskDB

/// What a database failure means to the caller, whichever front door it came through (the
/// API adds an HTTP status, the library throws it as is): a stable code and a message for
/// people. nil for a failure that is a defect of this program, not something to act on.
package struct DatabaseFailure: Sendable, Equatable {
    package enum Kind: Sendable { case unavailable, outcomeUnknown, badValue }

    package let kind: Kind
    package let code: String
    package let message: String

    package init?(_ error: DatabaseError) {
        switch error.code {
        case .poolTimeout, .poolClosed, .connectionLost, .connectionFailed, .queryCanceled:
            (kind, code, message) = (.unavailable, "database_unavailable", "the database is not reachable; try again")
        case .invalidParameter:
            // Only a client's text reaches here: PostgreSQL text cannot hold a NUL character.
            (kind, code, message) = (.badValue, "invalid_text", "text values must not contain NUL (U+0000) characters")
        case .invalidInput:
            // SQLSTATE class 22: the server refused a value (out of range, malformed) that
            // validation let through. Still the request's value, not the server's fault.
            (kind, code, message) = (.badValue, "invalid_value", "a value in the request is out of range or malformed")
        case .commitOutcomeUnknown:
            (kind, code, message) = (
                .outcomeUnknown, "outcome_unknown",
                "the database connection broke while committing; retry with the same idempotency key"
            )
        default:
            return nil
        }
    }
}
