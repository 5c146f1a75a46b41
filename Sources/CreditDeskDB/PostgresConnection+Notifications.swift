import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// LISTEN/NOTIFY: a session that listens receives, after each commit that notified its
/// channels, one notification per distinct payload. Used to drop cached state that another
/// daemon's transaction made stale (see docs/ARCHITECTURE.md "The key cache").
extension PostgresConnection {
    package struct Notification: Sendable, Equatable {
        package let channel: String
        package let payload: String
    }

    /// Starts receiving `channel`'s notifications (a fixed identifier, never user input).
    package func listen(_ channel: String) throws {
        precondition(channel.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        try executeScript("LISTEN \(channel)")
    }

    /// The notifications that have arrived, waiting up to `waitMilliseconds` for one when
    /// none is there yet; empty when none came. Throws `connection_lost` once the session
    /// broke: notifications sent meanwhile are lost, so the caller must assume anything changed.
    package func notifications(waitMilliseconds: Int32) throws -> [Notification] {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            throw DatabaseError(.connectionLost, message: "the listening connection is closed")
        }
        var arrived = Self.drainNotifications(handle)
        guard arrived.isEmpty else { return arrived }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, waitMilliseconds)
        if ready > 0, PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
            throw DatabaseError(
                .connectionLost,
                message: String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        arrived = Self.drainNotifications(handle)
        return arrived
    }

    private static func drainNotifications(_ handle: OpaquePointer) -> [Notification] {
        var arrived: [Notification] = []
        while let notification = PQnotifies(handle) {
            arrived.append(
                Notification(
                    channel: String(cString: notification.pointee.relname),
                    payload: String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return arrived
    }
}
