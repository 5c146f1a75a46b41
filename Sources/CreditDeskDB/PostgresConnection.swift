import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOPosix

/// How to reach the server and how each session is set up.
package struct ConnectionSettings: Sendable {
    /// A libpq connection string or `postgresql://` URL. Holds a password: never log it.
    package var url: String
    /// Every statement is cancelled after this long (PostgreSQL `statement_timeout`).
    package var statementTimeoutMilliseconds: Int
    package var connectTimeoutSeconds: Int
    package var applicationName: String

    package init(
        url: String, statementTimeoutMilliseconds: Int = 30_000, connectTimeoutSeconds: Int = 5,
        applicationName: String = "creditdesk"
    ) {
        self.url = url
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// The URL with any password replaced, for logs and error messages.
    package var redactedURL: String { Self.redact(url) }

    package static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.scheme != nil else {
            // key=value form: hide the password pair.
            return url.replacing(/password=\S+/, with: "password=***")
        }
        if components.password != nil { components.password = "***" }
        if let items = components.queryItems {
            components.queryItems = items.map { $0.name == "password" ? URLQueryItem(name: $0.name, value: "***") : $0 }
        }
        return components.string ?? "***"
    }
}

/// One libpq session. Owns its `PGconn`, finished on deinit.
///
/// Every call blocks the calling thread on the network, so a connection is only ever reached
/// through `DatabasePool`, which hands it to a closure running on its own `NIOThreadPool`
/// threads. `execute` also checks that it is not on an event-loop thread, so a mistake shows up
/// as a failed precondition in tests, not as a stalled server. A connection is used by one
/// thread at a time (the pool's checkout guarantees it), hence `@unchecked Sendable`.
package final class PostgresConnection: @unchecked Sendable {
    // Internal, not private: the notification reader (PostgresConnection+Notifications.swift) polls it.
    var handle: OpaquePointer?
    let settings: ConnectionSettings
    /// Statements this session has prepared, by parameter types and text. The server then
    /// parses each statement once per session instead of at every call (pgbench's
    /// `-M prepared`). Bounded: past the limit, statements run unprepared.
    private var preparedNames: [PreparedKey: String] = [:]
    /// Statements to send in the same round trip as the next one (see `sendWithNext`).
    var queued: [QueuedStatement] = []
    /// Set once a statement sent more than `largeParametersBytes`: libpq keeps its output
    /// buffer at the largest message it ever sent, for the life of the session, so the pool
    /// closes such a session after use instead of keeping megabytes per connection.
    package private(set) var retiresAfterUse = false
    static let largeParametersBytes = 1 << 20
    static let maximumPreparedStatements = 256

    private struct PreparedKey: Hashable {
        let types: [UInt32]
        let statement: String
    }

    package init(settings: ConnectionSettings) throws {
        self.settings = settings
        self.handle = try Self.open(settings)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    private static func open(_ settings: ConnectionSettings) throws -> OpaquePointer {
        // Sessions always speak UTC in ISO format, so timestamps decode without guessing.
        let options =
            "-c statement_timeout=\(settings.statementTimeoutMilliseconds) -c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex"
        let keywords = ["dbname", "options", "application_name", "connect_timeout", "client_encoding"]
        let values = [
            settings.url, options, settings.applicationName, String(settings.connectTimeoutSeconds), "UTF8",
        ]
        let handle = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw DatabaseError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw DatabaseError(.connectionFailed, message: message)
        }
        // libpq prints server NOTICEs ("relation already exists, skipping") to stderr by default,
        // which would break the one-JSON-object-per-line log format. They carry nothing we act on.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        return handle
    }

    /// True when the session still looks usable. Reads whatever the server sent while the
    /// connection sat idle: after a server restart that is a FATAL message and then end of
    /// file. libpq reports the first as a notice and only the read that meets end of file marks
    /// the connection bad, so keep reading while the socket has something to say.
    package var isHealthy: Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        for _ in 0..<8 {
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK { return false }
        }
        return PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// Drops the old session, if any, and opens a new one with the same settings.
    package func reconnect() throws {
        if let handle { PQfinish(handle) }
        handle = nil
        preparedNames.removeAll()
        queued.removeAll()
        handle = try Self.open(settings)
    }

    /// Runs one parameterized statement. `statement` is constant text; values go in `parameters`.
    @discardableResult
    package func execute(_ statement: String, _ parameters: [any PostgresBindable] = []) throws -> PostgresResult {
        precondition(
            MultiThreadedEventLoopGroup.currentEventLoop == nil,
            "blocking libpq call on an event-loop thread")
        guard let handle else {
            throw DatabaseError(.connectionLost, message: "the connection is closed")
        }
        if !queued.isEmpty { return try executeTogether([(statement, parameters)])[0] }
        let wire = try encode(parameters)
        let name = try preparedName(handle, statement, types: wire.types)
        let result: OpaquePointer? = withParameterPointers(wire.bytes) { pointers in
            if let name {
                PQexecPrepared(handle, name, wire.count, pointers, wire.lengths, wire.formats, 0)
            } else {
                PQexecParams(handle, statement, wire.count, wire.types, pointers, wire.lengths, wire.formats, 0)
            }
        }
        defer { PQclear(result) }
        return try Self.decode(result, connection: handle)
    }

    /// Parameters as libpq takes them.
    struct WireParameters {
        let types: [UInt32]
        let bytes: [[UInt8]?]
        let lengths: [Int32]
        let formats: [Int32]
        var count: Int32 { Int32(types.count) }
    }

    /// Encodes a statement's parameters (noting a session that sends more than
    /// `largeParametersBytes` at once, see `retiresAfterUse`).
    func encode(_ parameters: [any PostgresBindable]) throws -> WireParameters {
        let values = parameters.map(\.postgresValue)
        let bytes = try values.map { try $0.wireBytes() }
        let lengths = bytes.map { Int32($0?.count ?? 0) }
        if lengths.reduce(0, { $0 + Int($1) }) > Self.largeParametersBytes { retiresAfterUse = true }
        return WireParameters(
            types: values.map(\.typeOID), bytes: bytes, lengths: lengths, formats: values.map { Int32($0.isBinary ? 1 : 0) })
    }

    /// The name under which `statement` is prepared in this session, preparing it on first
    /// use; nil once the cache is full. A statement that fails to prepare (bad SQL, an aborted
    /// transaction) throws that error and is not remembered.
    func preparedName(_ handle: OpaquePointer, _ statement: String, types: [UInt32]) throws -> String? {
        let key = PreparedKey(types: types, statement: statement)
        if let name = preparedNames[key] { return name }
        guard preparedNames.count < Self.maximumPreparedStatements else { return nil }
        let name = "creditdesk_\(preparedNames.count + 1)"
        let result = PQprepare(handle, name, statement, Int32(types.count), types)
        defer { PQclear(result) }
        _ = try Self.decode(result, connection: handle)
        preparedNames[key] = name
        return name
    }

    /// Runs a parameterless statement and hands each row's raw text to `body` without making
    /// a Swift value of it: for exports, which copy bytes from the result straight into their
    /// output. The row view is valid only inside `body`. Returns the number of rows.
    @discardableResult
    package func forEachRawRow(_ statement: String, _ body: (PostgresRawRow) throws -> Void) throws -> Int {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil, "blocking libpq call on an event-loop thread")
        guard let handle else { throw DatabaseError(.connectionLost, message: "the connection is closed") }
        let result = PQexec(handle, statement)
        defer { PQclear(result) }
        guard let result, PQresultStatus(result) == PGRES_TUPLES_OK else {
            _ = try Self.decode(result, connection: handle)  // throws the mapped error
            return 0
        }
        let rows = PQntuples(result)
        for row in 0..<rows {
            try body(PostgresRawRow(result: result, row: row))
        }
        return Int(rows)
    }

    /// Runs statement text with no parameters, possibly several statements (migrations).
    package func executeScript(_ script: String) throws {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil, "blocking libpq call on an event-loop thread")
        guard let handle else { throw DatabaseError(.connectionLost, message: "the connection is closed") }
        let result = PQexec(handle, script)
        defer { PQclear(result) }
        _ = try Self.decode(result, connection: handle)
    }

    static func decode(_ result: OpaquePointer?, connection: OpaquePointer) throws -> PostgresResult {
        guard let result else {
            throw error(from: nil, connection: connection)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(rows: [], affectedRows: affectedRows(result))
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            let columns = PostgresColumns(
                names: (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) })
            var rows = [PostgresRow]()
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values = [String?]()
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                    }
                }
                rows.append(PostgresRow(columns: columns, values: values))
            }
            return PostgresResult(rows: rows, affectedRows: rowCount)
        default:
            throw error(from: result, connection: connection)
        }
    }

    private static func affectedRows(_ result: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private static func error(from result: OpaquePointer?, connection: OpaquePointer) -> DatabaseError {
        func field(_ code: UInt8) -> String? {
            guard let result, let pointer = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: pointer)
        }
        let sqlState = field(UInt8(ascii: "C"))
        let primary = field(UInt8(ascii: "M"))
        let fallback = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
        let message = primary ?? (fallback.isEmpty ? "unknown database error" : fallback)
        // A dead socket yields no SQLSTATE at all; the connection status says what happened.
        let code: DatabaseError.Code =
            if PQstatus(connection) != CONNECTION_OK {
                .connectionLost
            } else if let sqlState {
                DatabaseError.code(forSQLState: sqlState)
            } else {
                .other
            }
        return DatabaseError(
            code, sqlState: sqlState, message: message, constraint: field(UInt8(ascii: "n")),
            serverDetail: field(UInt8(ascii: "D")))
    }
}

/// One row of a result, read in place. It points into the PGresult, which is cleared when
/// `forEachRawRow` returns: use it inside that call's body only, and never store it.
package struct PostgresRawRow {
    let result: OpaquePointer
    let row: Int32

    /// The column's text bytes, or nil for NULL.
    package func withBytes<R>(_ column: Int, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        if PQgetisnull(result, row, Int32(column)) == 1 { return try body(nil) }
        let length = Int(PQgetlength(result, row, Int32(column)))
        let pointer = UnsafeRawPointer(PQgetvalue(result, row, Int32(column))!).assumingMemoryBound(to: UInt8.self)
        return try body(UnsafeBufferPointer(start: pointer, count: length))
    }
}

/// Calls `body` with a NULL-terminated-strings array whose storage lives only for the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    return body(duplicated.map { UnsafePointer($0) } + [nil])
}

/// Calls `body` with one pointer per parameter (nil for NULL); storage lives only for the call.
func withParameterPointers<R>(_ values: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var buffers = [UnsafeMutablePointer<CChar>?]()
    buffers.reserveCapacity(values.count)
    defer { buffers.forEach { $0?.deallocate() } }
    for value in values {
        guard let value else {
            buffers.append(nil)
            continue
        }
        // One extra NUL byte so text parameters are also valid C strings for libpq.
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: value.count + 1)
        value.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress { buffer.initialize(from: base, count: value.count) }
            }
        }
        buffer[value.count] = 0
        buffers.append(buffer)
    }
    return body(buffers.map { UnsafePointer($0) })
}
