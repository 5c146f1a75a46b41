import CLibPQ
import Foundation
import NIOPosix

/// Round trips saved with libpq's pipeline mode: a statement whose answer nobody waits for
/// (a transaction's BEGIN, a response stored just before COMMIT) is queued and sent together
/// with the next statement, in one round trip. The server runs them in order, exactly as if
/// they had been sent one by one; a failure of a queued statement is thrown by the statement
/// it travelled with, and the statements after it in the pipeline are not run.
extension PostgresConnection {
    struct QueuedStatement {
        let text: String
        let parameters: [any PostgresBindable]
    }

    /// Runs `statement` just before the next statement on this connection, in its round trip.
    /// Its rows are dropped; its error is the next statement's.
    package func sendWithNext(_ statement: String, _ parameters: [any PostgresBindable] = []) {
        queued.append(QueuedStatement(text: statement, parameters: parameters))
    }

    /// True while statements wait for the next one (a transaction with nothing run yet).
    package var hasQueuedStatements: Bool { !queued.isEmpty }

    /// Runs the statements in one round trip, in order, and answers their results (those
    /// queued before are run first, their results dropped). Outside a transaction they form
    /// one implicit transaction: all of them or, at the first failure (thrown), none.
    package func executeTogether(_ statements: [(String, [any PostgresBindable])]) throws -> [PostgresResult] {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil, "blocking libpq call on an event-loop thread")
        guard let handle else { throw DatabaseError(.connectionLost, message: "the connection is closed") }
        let earlier = queued
        queued.removeAll()
        let results = try pipeline(handle, earlier + statements.map { QueuedStatement(text: $0.0, parameters: $0.1) })
        return Array(results.dropFirst(earlier.count))
    }

    /// Sends every statement, then one sync, and reads the results in order: every
    /// statement's result, or the first error.
    func pipeline(_ handle: OpaquePointer, _ statements: [QueuedStatement]) throws -> [PostgresResult] {
        // Prepared outside the pipeline (once per session), so the pipeline only executes.
        let prepared = try statements.map { statement in
            let wire = try encode(statement.parameters)
            return (statement, wire, try preparedName(handle, statement.text, types: wire.types))
        }
        guard PQenterPipelineMode(handle) == 1 else { throw Self.pipelineFailure(handle, "entering pipeline mode") }
        defer { PQexitPipelineMode(handle) }
        for (statement, wire, name) in prepared {
            let sent = withParameterPointers(wire.bytes) { pointers in
                if let name {
                    PQsendQueryPrepared(handle, name, wire.count, pointers, wire.lengths, wire.formats, 0)
                } else {
                    PQsendQueryParams(handle, statement.text, wire.count, wire.types, pointers, wire.lengths, wire.formats, 0)
                }
            }
            guard sent == 1 else { throw Self.pipelineFailure(handle, "sending a statement") }
        }
        guard PQpipelineSync(handle) == 1 else { throw Self.pipelineFailure(handle, "sending the sync") }
        var results: [PostgresResult] = []
        results.reserveCapacity(prepared.count)
        var firstError: (any Error)?
        for _ in prepared {
            guard let result = PQgetResult(handle) else { throw Self.pipelineFailure(handle, "reading a result") }
            if PQresultStatus(result) != PGRES_PIPELINE_ABORTED, firstError == nil {
                do { results.append(try Self.decode(result, connection: handle)) } catch { firstError = error }
            }
            PQclear(result)
            // Each statement's results end with a NULL.
            while let extra = PQgetResult(handle) { PQclear(extra) }
        }
        guard let sync = PQgetResult(handle) else { throw Self.pipelineFailure(handle, "reading the sync") }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        if let firstError { throw firstError }
        guard synced, results.count == prepared.count else { throw Self.pipelineFailure(handle, "reading the sync") }
        return results
    }

    private static func pipelineFailure(_ handle: OpaquePointer, _ step: String) -> DatabaseError {
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return DatabaseError(
            PQstatus(handle) == CONNECTION_OK ? .other : .connectionLost,
            message: "pipeline: \(step) failed\(message.isEmpty ? "" : ": \(message)")")
    }
}
