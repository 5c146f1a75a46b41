import Foundation

package enum AccountKind: String, Codable, Sendable, CaseIterable {
    case platform, reseller, client

    /// Which kinds may sit directly under this one.
    package var allowedChildren: Set<AccountKind> {
        switch self {
        case .platform: [.reseller]
        case .reseller: [.reseller, .client]
        case .client: []
        }
    }

    /// Roles a user of an account of this kind may have.
    package var allowedRoles: Set<Role> {
        switch self {
        case .platform: [.operator, .billing]
        case .reseller: [.admin, .billing, .support]
        case .client: [.admin, .user, .readonly]
        }
    }
}

package enum AccountStatus: String, Codable, Sendable, CaseIterable {
    case active, suspended
}

package enum Role: String, Codable, Sendable, CaseIterable {
    case `operator`, billing, admin, support, user, readonly
}

package enum Feature: String, Codable, Sendable, CaseIterable {
    case mms, international, campaigns, scheduling, inbound
}

package enum CreditUnit: String, Codable, Sendable, CaseIterable {
    case sms, mms

    /// MMS credits exist only where the effective `mms` feature is on.
    package var requiredFeature: Feature? { self == .mms ? .mms : nil }
}

package enum EntryKind: String, Codable, Sendable, CaseIterable {
    case grant, adjust, transfer, sale, reserve, post, void, charge, refund, expire
}

/// What counts as credits *used*, wherever usage is shown (the clients overview, the
/// dashboard, usage reports): debits of a sent kind (`post`: a message went) or a received kind
/// (`charge`: an inbound MMS, or any other direct charge). Expiry, removals, transfers and
/// pending reservations are not use; a refund is an income of its own, not negative use.
package enum CreditUse {
    package static let sent = EntryKind.post
    package static let received = EntryKind.charge
    package static let kinds: [EntryKind] = [sent, received]
}

/// When a message or campaign goes: `nil` (now) for no time or one already past; a later time
/// needs the `scheduling` feature and lies within `Limits.maxScheduleAheadSeconds` of now (a
/// well-formed time beyond that is refused by the clock, not by its form: a conflict).
package enum Scheduling {
    package static func sendTime(_ requested: Date?, now: Date, schedulingEnabled: Bool) throws(DomainError) -> Date? {
        guard let requested, requested > now else { return nil }
        guard schedulingEnabled else {
            throw DomainError(.featureDisabled, "scheduled sends need the scheduling feature", details: ["feature": .string("scheduling")])
        }
        guard requested < now.addingTimeInterval(Limits.maxScheduleAheadSeconds) else {
            throw DomainError.beyondState("send_at", "must be within a year from now")
        }
        return requested
    }
}

/// What a row of the job queue asks the dispatcher to do.
package enum JobKind: String, Sendable, CaseIterable {
    /// Submit a queued (or now due) message to its gateway.
    case sendMessage = "send_message"
    /// Forward an inbound reply to its user by email or SMS.
    case routeReply = "route_reply"
    /// Email a low-balance alert or a failed top-up to the admins it concerns.
    case balanceNotice = "balance_notice"
    /// Transfer a client's automatic top-up from its parent's pool.
    case autoTopUp = "auto_top_up"
}

package enum ReservationStatus: String, Codable, Sendable, CaseIterable {
    case pending, posted, voided
}

/// The two system accounts that close the books. Their balances are derived from entries.
package enum SystemAccount {
    /// Where credits come from when the platform creates them.
    package static let issuance = UUID(uuidString: "00000000-0000-0000-0000-000000000001")!
    /// Where credits go when they are used.
    package static let consumption = UUID(uuidString: "00000000-0000-0000-0000-000000000002")!

    package static func name(of id: UUID) -> String? {
        switch id {
        case issuance: "issuance"
        case consumption: "consumption"
        default: nil
        }
    }
}

/// Limits on everything a request can ask for.
package enum Limits {
    /// One operation moves at most this many credits (a campaign of a million 6-part SMS fits).
    package static let maxAmount: Int64 = 1_000_000_000
    package static let maxCreditLimit: Int64 = 1_000_000_000_000
    package static let maxNameLength = 200
    package static let maxReasonLength = 500
    package static let maxReferenceLength = 200
    package static let defaultPageSize = 50
    package static let maxPageSize = 500
    package static let maxPriceMinor: Int64 = 1_000_000_000_000
    /// Reservations one bulk request may create (a campaign of 100,000 recipients).
    package static let maxBulkReservations = 100_000
    /// The largest request body a bulk reservation may send (100,000 items with references).
    package static let maxBulkBodyBytes = 32 * 1024 * 1024
    /// How far ahead a message or campaign may be scheduled.
    package static let maxScheduleAheadSeconds: Double = 366 * 86_400
    /// The largest body of a contact batch or a list's new members (10,000 full contacts fit).
    package static let maxBatchBodyBytes = 8 * 1024 * 1024
    /// A console session ends after this long without a request, and this long after sign-in.
    package static let sessionIdleSeconds = 12 * 3_600
    package static let sessionLifetimeSeconds = 7 * 86_400
    /// A one-time link to set a password works for a day.
    package static let passwordLinkSeconds = 24 * 3_600
    /// Failed sign-ins counted over this window; at `maxSignInFailuresPerLogin` for one login,
    /// or `maxSignInFailuresPerAddress` from one address, sign-in answers 429 until it passes.
    package static let signInWindowSeconds = 15 * 60
    package static let maxSignInFailuresPerLogin: Int64 = 5
    package static let maxSignInFailuresPerAddress: Int64 = 20
    /// Passwords: at least this long (NIST SP 800-63B), and at most this long (bcrypt sees
    /// their SHA-256, so any length fits its 72 bytes).
    package static let minPasswordLength = 10
    package static let maxPasswordLength = 256
}

/// Effective features: an account has a feature only if it and every ancestor have it on.
package enum Features {
    /// `ownByAncestor` holds each account's own flags, root first, ending with the account.
    package static func effective(_ ownByAncestor: [Set<Feature>]) -> Set<Feature> {
        guard var result = ownByAncestor.first else { return [] }
        for own in ownByAncestor.dropFirst() { result.formIntersection(own) }
        return result
    }
}
