import CreditDeskCore
import CreditDeskDB
import Foundation

package struct ApprovalRecord: Sendable, Equatable {
    package let id: UUID
    /// Orders requests (newest has the highest); the cursor of a page.
    package let position: Int64
    package let tenantID: UUID
    /// Whose threshold held it: the requester's account.
    package let accountID: UUID
    package let targetAccountID: UUID
    package let sourceAccountID: UUID?
    package let kind: ApprovalKind
    package let unit: CreditUnit
    package let amount: Int64
    package let reason: String?
    package let requestedBy: UUID
    package let requestedAt: Date
    package let expiresAt: Date
    /// As stored; `Approvals.status` tells a reader whether it has expired.
    package let storedStatus: ApprovalStatus
    package let decidedBy: UUID?
    package let decidedAt: Date?
    package let entryID: Int64?

    package var status: ApprovalStatus { Approvals.status(stored: storedStatus, expiresAt: expiresAt) }
}

/// Approval thresholds and held requests (sql/0017_approvals.sql).
package enum ApprovalStore {
    static let selectThresholds = "SELECT unit, threshold FROM approval_thresholds WHERE account_id = $1"
    static let upsertThreshold = """
        INSERT INTO approval_thresholds (tenant_id, account_id, unit, threshold) VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id, account_id, unit) DO UPDATE SET threshold = excluded.threshold, updated_at = now()
        """
    static let deleteThreshold = "DELETE FROM approval_thresholds WHERE tenant_id = $1 AND account_id = $2 AND unit = $3"
    static let columns = """
        id, position, tenant_id, account_id, target_account_id, source_account_id, kind, unit, amount, reason,
        requested_by, requested_at, expires_at, status, decided_by, decided_at, entry_id
        """
    static let insert = """
        INSERT INTO approval_requests (tenant_id, id, account_id, target_account_id, source_account_id, kind, unit,
            amount, reason, requested_by, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))
        RETURNING \(columns)
        """
    static let select = "SELECT \(columns) FROM approval_requests WHERE id = $1"
    static let selectForUpdate = "SELECT \(columns) FROM approval_requests WHERE id = $1 FOR UPDATE"
    static let decide = """
        UPDATE approval_requests SET status = $2, decided_by = $3, decided_at = now(), entry_id = $4
        WHERE id = $1 AND status = 'pending'
        RETURNING \(columns)
        """
    /// Requests held at accounts of $1's subtree, newest first; $2 a status (expired: pending past its time).
    static let selectList = """
        SELECT \(columns) FROM approval_requests
        WHERE account_id IN (SELECT id FROM accounts WHERE path @> ARRAY[$1::uuid])
          AND ($2::text IS NULL
               OR ($2 = 'expired' AND status = 'pending' AND expires_at <= now())
               OR ($2 = 'pending' AND status = 'pending' AND expires_at > now())
               OR ($2 IN ('approved', 'rejected') AND status = $2))
          AND ($3::bigint IS NULL OR position < $3)
        ORDER BY position DESC
        LIMIT $4
        """

    package static func thresholds(_ connection: PostgresConnection, accountID: UUID) throws -> [CreditUnit: Int64] {
        var thresholds: [CreditUnit: Int64] = [:]
        for row in try connection.execute(selectThresholds, [accountID]).rows {
            if let unit = CreditUnit(rawValue: try row.decode(String.self, "unit")) {
                thresholds[unit] = try row.decode(Int64.self, "threshold")
            }
        }
        return thresholds
    }

    package static func setThreshold(
        _ connection: PostgresConnection, account: AccountRecord, unit: CreditUnit, threshold: Int64?
    ) throws {
        if let threshold {
            try connection.execute(upsertThreshold, [account.tenantID, account.id, unit.rawValue, threshold])
        } else {
            try connection.execute(deleteThreshold, [account.tenantID, account.id, unit.rawValue])
        }
    }

    package struct NewRequest: Sendable {
        package let account: AccountRecord
        package let target: AccountRecord
        package let sourceAccountID: UUID?
        package let kind: ApprovalKind
        package let unit: CreditUnit
        package let amount: Int64
        package let reason: String?
        package let requestedBy: UUID

        package init(
            account: AccountRecord, target: AccountRecord, sourceAccountID: UUID?, kind: ApprovalKind, unit: CreditUnit,
            amount: Int64, reason: String?, requestedBy: UUID
        ) {
            self.account = account
            self.target = target
            self.sourceAccountID = sourceAccountID
            self.kind = kind
            self.unit = unit
            self.amount = amount
            self.reason = reason
            self.requestedBy = requestedBy
        }
    }

    package static func create(_ connection: PostgresConnection, _ request: NewRequest) throws -> ApprovalRecord {
        try decode(
            try connection.execute(
                insert,
                [
                    request.target.tenantID, UUID(), request.account.id, request.target.id, request.sourceAccountID,
                    request.kind.rawValue, request.unit.rawValue, request.amount, request.reason, request.requestedBy,
                    Approvals.lifetimeSeconds,
                ]
            ).single())
    }

    package static func find(_ connection: PostgresConnection, id: UUID, lock: Bool = false) throws -> ApprovalRecord? {
        try connection.execute(lock ? selectForUpdate : select, [id]).first.map(decode)
    }

    /// Decides a pending request (nil if it was no longer pending).
    package static func decide(
        _ connection: PostgresConnection, id: UUID, status: ApprovalStatus, by userID: UUID, entryID: Int64?
    ) throws -> ApprovalRecord? {
        precondition(status == .approved || status == .rejected, "a decision approves or rejects")
        return try connection.execute(decide, [id, status.rawValue, userID, entryID]).first.map(decode)
    }

    package static func requests(
        _ connection: PostgresConnection, root: UUID, status: ApprovalStatus?, beforePosition: Int64?, limit: Int
    ) throws -> [ApprovalRecord] {
        try connection.execute(selectList, [root, status?.rawValue, beforePosition, limit]).rows.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> ApprovalRecord {
        ApprovalRecord(
            id: try row.decode(UUID.self, "id"), position: try row.decode(Int64.self, "position"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), targetAccountID: try row.decode(UUID.self, "target_account_id"),
            sourceAccountID: try row.decode(UUID?.self, "source_account_id"),
            kind: ApprovalKind(rawValue: try row.decode(String.self, "kind")) ?? .adjust,
            unit: CreditUnit(rawValue: try row.decode(String.self, "unit")) ?? .sms, amount: try row.decode(Int64.self, "amount"),
            reason: try row.decode(String?.self, "reason"), requestedBy: try row.decode(UUID.self, "requested_by"),
            requestedAt: try row.decode(Date.self, "requested_at"), expiresAt: try row.decode(Date.self, "expires_at"),
            storedStatus: ApprovalStatus(rawValue: try row.decode(String.self, "status")) ?? .pending,
            decidedBy: try row.decode(UUID?.self, "decided_by"), decidedAt: try row.decode(Date?.self, "decided_at"),
            entryID: try row.decode(Int64?.self, "entry_id"))
    }
}
