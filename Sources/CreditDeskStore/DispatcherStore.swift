import CreditDeskCore
import CreditDeskDB
import Foundation

/// The dispatchers alive now (one row per daemon, refreshed every few seconds), so each can
/// take its share of a gateway's concurrency limit. Every function runs in the caller's
/// transaction.
package enum DispatcherStore {
    /// A dispatcher not seen for this long is gone: its share goes back to the others.
    package static let aliveSeconds = 5
    /// A dispatcher silent for this long has its claimed jobs taken over by others. Longer than
    /// `aliveSeconds` plus a gateway timeout: a dispatcher that lost its beat stops submitting
    /// (its share drops to 0) and its submissions in flight end before anyone takes them over.
    package static let reclaimSeconds = 20

    // MARK: statements

    static let upsertDispatcher = """
        INSERT INTO dispatchers (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET seen_at = now()
        """
    static let deleteGone = "DELETE FROM dispatchers WHERE seen_at < now() - make_interval(secs => $1)"
    /// The live ones, each with whether it has beaten since $1 joined (with a second to spare
    /// for a beat that was under way then): it then counts $1 in its share.
    static let selectAlive = """
        SELECT d.id, d.seen_at >= (SELECT started_at FROM dispatchers WHERE id = $1) + interval '1 second' AS knows
        FROM dispatchers d WHERE d.seen_at >= now() - make_interval(secs => $2) ORDER BY d.id
        """
    static let deleteDispatcher = "DELETE FROM dispatchers WHERE id = $1"

    /// Notes that `id` is alive and answers who is (itself included), each with whether it
    /// has noticed `id` since it joined.
    package static func beat(_ connection: PostgresConnection, id: UUID) throws -> [(id: UUID, knowsIt: Bool)] {
        try connection.execute(upsertDispatcher, [id])
        try connection.execute(deleteGone, [Int64(aliveSeconds * 12)])
        return try connection.execute(selectAlive, [id, Int64(aliveSeconds)]).rows.map {
            (try $0.decode(UUID.self, "id"), try $0.decode(Bool.self, "knows"))
        }
    }

    /// A dispatcher stopping cleanly: its share goes back to the others at once.
    package static func leave(_ connection: PostgresConnection, id: UUID) throws {
        try connection.execute(deleteDispatcher, [id])
    }
}
