/// The one error type of the database layer.
///
/// `code` is stable and is what callers switch on; `sqlState` is PostgreSQL's own five-character
/// code when the server sent one. `description` deliberately leaves out the server's DETAIL
/// line, which can quote row values (a unique violation's key, for example), so that logging an
/// error never leaks data. The detail stays available in `serverDetail` for code that needs it.
package struct DatabaseError: Error, CustomStringConvertible, Sendable, Equatable {
    package enum Code: String, Sendable, Equatable {
        case uniqueViolation = "unique_violation"
        case checkViolation = "check_violation"
        case foreignKeyViolation = "foreign_key_violation"
        case notNullViolation = "not_null_violation"
        case exclusionViolation = "exclusion_violation"
        case serializationFailure = "serialization_failure"
        case deadlockDetected = "deadlock_detected"
        case queryCanceled = "query_canceled"  // statement_timeout or an explicit cancel
        case invalidInput = "invalid_input"  // SQLSTATE class 22: a value the server rejected
        case programmingError = "programming_error"  // class 42: bad SQL, unknown table or column
        case connectionLost = "connection_lost"
        case connectionFailed = "connection_failed"
        /// The connection broke during COMMIT: the transaction may or may not have applied.
        case commitOutcomeUnknown = "commit_outcome_unknown"
        case poolTimeout = "pool_timeout"
        case poolClosed = "pool_closed"
        case decoding = "decoding"
        case invalidParameter = "invalid_parameter"
        case migration = "migration"
        case embeddedServer = "embedded_server"
        case other = "other"
    }

    package var code: Code
    package var sqlState: String?
    package var message: String
    /// The constraint a violation names, when the server reported one.
    package var constraint: String?
    package var serverDetail: String?

    package init(
        _ code: Code, sqlState: String? = nil, message: String, constraint: String? = nil,
        serverDetail: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.constraint = constraint
        self.serverDetail = serverDetail
    }

    package var description: String {
        var text = "DatabaseError(\(code.rawValue)"
        if let sqlState { text += ", sqlstate \(sqlState)" }
        if let constraint { text += ", constraint \(constraint)" }
        return text + "): \(message)"
    }

    /// Errors after which running the same transaction again can succeed.
    package var isTransient: Bool {
        switch code {
        case .serializationFailure, .deadlockDetected, .connectionLost: true
        default: false
        }
    }

    /// Maps a SQLSTATE to a stable code. Classes, not only exact codes, so that a server
    /// version adding a new code in a known class still maps sensibly.
    static func code(forSQLState state: String) -> Code {
        switch state {
        case "23505": return .uniqueViolation
        case "23514": return .checkViolation
        case "23503": return .foreignKeyViolation
        case "23502": return .notNullViolation
        case "23P01": return .exclusionViolation
        case "40001": return .serializationFailure
        case "40P01": return .deadlockDetected
        case "57014": return .queryCanceled
        // admin_shutdown, crash_shutdown, cannot_connect_now: the server went away under us.
        case "57P01", "57P02", "57P03": return .connectionLost
        default: break
        }
        switch state.prefix(2) {
        case "08": return .connectionLost
        case "22": return .invalidInput
        case "42": return .programmingError
        default: return .other
        }
    }
}
