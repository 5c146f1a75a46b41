import Foundation

/// Four-eyes approvals: the rules, free of storage (docs/ARCHITECTURE.md "Approvals").
package enum ApprovalStatus: String, Sendable, CaseIterable, Codable {
    case pending, approved, rejected
    /// Pending past its expiry: it can no longer be approved.
    case expired
}

package enum ApprovalKind: String, Sendable, CaseIterable, Codable {
    case adjust, transfer
}

package enum Approvals {
    /// A held request waits this long for a second admin.
    package static let lifetimeSeconds: Int64 = 7 * 24 * 3600

    /// Whether a movement of `amount` credits (an adjustment's signed change counts by its
    /// size) is held by `threshold` (none: nothing is held).
    package static func holds(amount: Int64, threshold: Int64?) -> Bool {
        guard let threshold else { return false }
        return amount.magnitude > UInt64(threshold)
    }

    /// Who may change an account's threshold: an admin above the account may set anything;
    /// the account's own admins may only tighten it (set one where there was none, or lower
    /// it), so an admin who wants to move credits alone cannot first switch the control off.
    package static func maySet(ownAccount: Bool, from old: Int64?, to new: Int64?) -> Bool {
        guard ownAccount else { return true }
        switch (old, new) {
        case (nil, _): return true
        case (.some, nil): return false
        case (let old?, let new?): return new <= old
        }
    }

    /// The status a reader sees: pending past `expiresAt` is expired.
    package static func status(stored: ApprovalStatus, expiresAt: Date, now: Date = Date()) -> ApprovalStatus {
        stored == .pending && expiresAt <= now ? .expired : stored
    }
}
