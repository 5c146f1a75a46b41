import CreditDeskCore
import CreditDeskDB
import Foundation

package struct JobRecord: Sendable, Equatable {
    package let id: Int64
    /// Nil for a kind this build does not know (written by a newer one): never guessed.
    package let kind: JobKind?
    package let subjectID: UUID
    package let attempts: Int
    package let maxAttempts: Int
}

/// The job queue: due jobs leased with SKIP LOCKED, so several daemons share it; transactional
/// jobs (priority 0) before campaign messages (priority 1).
package enum JobStore {
    /// A campaign message's priority: claimed after every due transactional job.
    static let campaignPriority = 1

    // MARK: statements

    static let insertJob = """
        INSERT INTO jobs (tenant_id, kind, subject_id, run_at) VALUES ($1, $2, $3, coalesce($4, now())) RETURNING id
        """
    /// A campaign's message jobs, in the round robin from its current head (see
    /// sql/0012_job_priority.sql): $3 is the messages in the campaign's order.
    static let insertCampaignJobs = """
        INSERT INTO jobs (tenant_id, kind, subject_id, run_at, priority, turn)
        SELECT $1::uuid, '\(JobKind.sendMessage.rawValue)', m.id, coalesce($2::timestamptz, now()), \(campaignPriority),
               (SELECT coalesce(min(turn), 0) FROM jobs
                WHERE done_at IS NULL AND priority = \(campaignPriority) AND run_at <= now()) + m.n - 1
        FROM unnest($3::text::uuid[]) WITH ORDINALITY AS m (id, n)
        """
    /// A job nobody holds: never leased, its lease over, or its holder gone silent (killed).
    static let jobIsIdle = """
        (locked_until IS NULL OR locked_until < now()
         OR (locked_by IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM dispatchers d
             WHERE d.id = locked_by AND d.seen_at >= now() - make_interval(secs => \(DispatcherStore.reclaimSeconds)))))
        """
    /// Due jobs nobody holds, leased to dispatcher `$3` for `$2` seconds. SKIP LOCKED lets
    /// several daemons claim side by side without waiting on each other.
    static let claimJobs = """
        WITH due AS (
            SELECT tenant_id, id FROM jobs
            WHERE done_at IS NULL AND run_at <= now() AND \(jobIsIdle)
            ORDER BY priority, turn, run_at, id LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs j SET locked_until = now() + make_interval(secs => $2), locked_by = $3, attempts = j.attempts + 1
        FROM due WHERE j.tenant_id = due.tenant_id AND j.id = due.id
        RETURNING j.id, j.kind, j.subject_id, j.attempts, j.max_attempts
        """
    static let finishJob = "UPDATE jobs SET done_at = now(), locked_until = NULL, last_error = $2 WHERE id = $1"
    static let finishJobs = "UPDATE jobs SET done_at = now(), locked_until = NULL WHERE id = ANY ($1::text::bigint[])"
    /// A finished job stays finished: a batch that failed part-way puts back only what it had
    /// not concluded.
    static let retryJob = """
        UPDATE jobs SET run_at = now() + make_interval(secs => $2), locked_until = NULL, last_error = $3
        WHERE id = $1 AND done_at IS NULL
        """
    /// Put back untried (a gateway's limit reached, or the gateway throttling): the claim's
    /// attempt is given back, so waiting never uses up a message's attempts.
    static let postponeJobs = """
        UPDATE jobs SET run_at = now() + make_interval(secs => $2::text::float8), locked_until = NULL,
            attempts = greatest(attempts - 1, 0)
        WHERE id = ANY ($1::text::bigint[]) AND done_at IS NULL
        """
    /// The open job of a message, if nobody is working on it right now.
    static let lockIdleJob = """
        SELECT id FROM jobs
        WHERE subject_id = $1 AND done_at IS NULL AND \(jobIsIdle)
        FOR UPDATE SKIP LOCKED
        """

    package static func enqueue(_ connection: PostgresConnection, tenantID: UUID, kind: JobKind, subjectID: UUID, runAt: Date?) throws {
        try connection.execute(insertJob, [tenantID, kind.rawValue, subjectID, runAt])
    }

    /// Queues a campaign's messages (`messageIDs`: an array literal, in the campaign's order).
    static func enqueueCampaign(_ connection: PostgresConnection, tenantID: UUID, messageIDs: String, runAt: Date?) throws {
        try connection.execute(insertCampaignJobs, [tenantID, runAt, messageIDs])
    }

    /// Leases up to `limit` due jobs to `dispatcherID` (nil: a caller outside any dispatcher,
    /// whose jobs wait out the lease if it dies).
    package static func claim(
        _ connection: PostgresConnection, limit: Int, leaseSeconds: Int, dispatcherID: UUID? = nil
    ) throws -> [JobRecord] {
        try connection.execute(claimJobs, [Int64(limit), Int64(leaseSeconds), dispatcherID]).rows.map {
            JobRecord(
                id: try $0.decode(Int64.self, "id"), kind: JobKind(rawValue: try $0.decode(String.self, "kind")),
                subjectID: try $0.decode(UUID.self, "subject_id"), attempts: Int(try $0.decode(Int64.self, "attempts")),
                maxAttempts: Int(try $0.decode(Int64.self, "max_attempts")))
        }
    }

    package static func finish(_ connection: PostgresConnection, jobID: Int64, error: String? = nil) throws {
        try connection.execute(finishJob, [jobID, error])
    }

    /// Finishes several jobs that succeeded.
    package static func finish(_ connection: PostgresConnection, jobIDs: [Int64]) throws {
        guard !jobIDs.isEmpty else { return }
        try connection.execute(finishJobs, [arrayLiteral(jobIDs.map(String.init))])
    }

    package static func retry(_ connection: PostgresConnection, jobID: Int64, afterSeconds: Int, error: String) throws {
        try connection.execute(retryJob, [jobID, Int64(afterSeconds), error])
    }

    package static func postpone(_ connection: PostgresConnection, jobIDs: [Int64], afterSeconds: Double) throws {
        guard !jobIDs.isEmpty else { return }
        try connection.execute(postponeJobs, [arrayLiteral(jobIDs.map(String.init)), String(afterSeconds)])
    }

    /// The job of a message that nobody is working on, locked; nil when it is being worked on
    /// (or there is none).
    package static func lockIdleJob(_ connection: PostgresConnection, subjectID: UUID) throws -> Int64? {
        try connection.execute(lockIdleJob, [subjectID]).first?.decode(Int64.self, "id")
    }

    /// The queue by kind, for the metrics: jobs due now that nobody holds, jobs waiting for
    /// a later time, and how long the oldest due job has waited (0 when none is due).
    package struct Depth: Sendable, Equatable {
        package let kind: String
        package let due: Int
        package let later: Int
        package let oldestDueSeconds: Double
    }

    static let selectDepth = """
        SELECT kind, count(*) FILTER (WHERE run_at <= now() AND \(jobIsIdle)) AS due,
               count(*) FILTER (WHERE run_at > now()) AS later,
               coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now() AND \(jobIsIdle))), 0)::float8
                 AS oldest_due_seconds
        FROM jobs WHERE done_at IS NULL GROUP BY kind
        """

    package static func depth(_ connection: PostgresConnection) throws -> [Depth] {
        try connection.execute(selectDepth).rows.map { row in
            Depth(
                kind: try row.decode(String.self, "kind"), due: Int(try row.decode(Int64.self, "due")),
                later: Int(try row.decode(Int64.self, "later")),
                oldestDueSeconds: try row.decode(Double.self, "oldest_due_seconds"))
        }
    }
}
