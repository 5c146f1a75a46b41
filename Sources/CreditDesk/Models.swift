import Foundation

// The library's public values. Plain, Codable and Sendable: nothing of the database or the
// network shows through. Credits are whole numbers (`Int64`), never floating point.

/// What credits count: SMS segments or MMS messages.
public enum CreditUnit: String, Codable, Sendable, CaseIterable {
    /// SMS: one credit a segment (more to some destinations, at the reseller's rates).
    case sms
    /// MMS: one credit a message, sent or received.
    case mms
}

/// Where an account sits in the tree: one platform, its resellers, their clients.
public enum AccountKind: String, Codable, Sendable, CaseIterable {
    /// The operator's own account, the root of the tree.
    case platform
    /// A reseller: buys from the platform, sells packages to its clients.
    case reseller
    /// A client of a reseller: an office, an agency, a shop.
    case client
}

/// What a user may do on its own account and, for admins, below it.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Runs the platform: everything, everywhere.
    case `operator`
    /// Reads everything at and below its account, for invoicing.
    case billing
    /// Manages its account and those below it: users, credits, packages, features.
    case admin
    /// Reads at and below its account, to help customers.
    case support
    /// Sends messages and spends its account's credits.
    case user
    /// Reads its account, changes nothing.
    case readonly
}

/// A permission an account's parent grants, such as "Enable MMS". Effective only when every
/// ancestor has it too.
public enum Feature: String, Codable, Sendable, CaseIterable {
    /// Sending and receiving MMS, and holding MMS credits.
    case mms
    /// Sending to numbers outside the account's home country.
    case international
    /// Campaigns to contact lists.
    case campaigns
    /// Messages sent at a later time.
    case scheduling
    /// Receiving messages (replies, MMS) through the account's gateways.
    case inbound
}

/// An account: the platform, a reseller or a client.
public struct Account: Codable, Sendable, Hashable {
    /// The account's id.
    public let id: UUID
    /// The account above it; nil for the platform.
    public let parentID: UUID?
    /// Platform, reseller or client.
    public let kind: AccountKind
    /// The account's name, as people see it.
    public let name: String
    /// Suspended itself or below a suspended ancestor: it can read but not write.
    public let suspended: Bool
    /// The features this account's parent switched on for it.
    public let features: Set<Feature>
    /// The features in force: its own, where every ancestor has them too.
    public let effectiveFeatures: Set<Feature>
    /// When the account was created.
    public let createdAt: Date
}

/// A person or a system acting on an account, with a role.
public struct User: Codable, Sendable, Hashable {
    /// The user's id.
    public let id: UUID
    /// The account the user belongs to.
    public let accountID: UUID
    /// The user's name.
    public let name: String
    /// The user's email, if given.
    public let email: String?
    /// What the user may do.
    public let role: Role
}

/// An API key of a user. Its secret is shown once, when it is created.
public struct APIKey: Codable, Sendable, Hashable {
    /// The key's id.
    public let id: UUID
    /// The user it acts as.
    public let userID: UUID
    /// The secret's first characters, to tell keys apart.
    public let prefix: String
    /// What the key is for, as its owner named it.
    public let label: String
    /// Revoked keys authenticate no more.
    public let revoked: Bool
}

/// One account's credits in one unit.
public struct Balance: Codable, Sendable, Hashable {
    /// SMS or MMS.
    public let unit: CreditUnit
    /// Credits on the account, reservations not deducted.
    public let posted: Int64
    /// Credits held by pending reservations.
    public let reserved: Int64
    /// What can still be reserved or moved: posted − reserved + credit limit.
    public let available: Int64
    /// How far below zero the account may go (postpaid); 0 for prepaid.
    public let creditLimit: Int64
}

/// What a ledger entry records.
public enum EntryKind: String, Codable, Sendable, CaseIterable {
    /// Credits issued to an account by the platform.
    case grant
    /// A manual addition or removal, with a reason.
    case adjust
    /// Credits moved from an account to one of its children.
    case transfer
    /// A package's credits, bought from the reseller.
    case sale
    /// Credits held by a reservation.
    case reserve
    /// A reservation's credits spent.
    case post
    /// A reservation's credits released.
    case void
    /// Credits spent at once, without a reservation.
    case charge
    /// Spent credits given back.
    case refund
    /// Unused credits expired by the parent.
    case expire
}

/// One movement of credits between two accounts. Entries are never changed or deleted.
public struct Entry: Codable, Sendable, Hashable {
    /// The entry's number, increasing.
    public let id: Int64
    /// What kind of movement it is.
    public let kind: EntryKind
    /// SMS or MMS.
    public let unit: CreditUnit
    /// How many credits moved; always positive.
    public let amount: Int64
    /// The account credits left.
    public let debitAccountID: UUID
    /// The account credits reached.
    public let creditAccountID: UUID
    /// Why, as the actor said.
    public let reason: String?
    /// When it was written.
    public let createdAt: Date
}

/// A reseller's package: credits at a price, sold to its clients.
public struct Package: Codable, Sendable, Hashable {
    /// The package's id.
    public let id: UUID
    /// The reseller that sells it.
    public let resellerID: UUID
    /// The package's name.
    public let name: String
    /// SMS credits it gives.
    public let smsCredits: Int64
    /// MMS credits it gives.
    public let mmsCredits: Int64
    /// The price in the currency's minor unit (cents).
    public let priceMinor: Int64
    /// ISO 4217 currency code.
    public let currency: String
    /// Whether it can still be sold.
    public let active: Bool
}

/// The sale of a package to a client: its credits moved from the reseller's pool.
public struct Sale: Codable, Sendable, Hashable {
    /// The sale's id.
    public let id: UUID
    /// The package sold.
    public let packageID: UUID
    /// The client that bought it.
    public let buyerID: UUID
    /// SMS credits it gave.
    public let smsCredits: Int64
    /// MMS credits it gave.
    public let mmsCredits: Int64
    /// The price charged, in the currency's minor unit.
    public let priceMinor: Int64
    /// ISO 4217 currency code.
    public let currency: String
    /// The ledger entries that moved the credits.
    public let entries: [Entry]
}

/// Whether a reservation still holds its credits.
public enum ReservationStatus: String, Codable, Sendable, CaseIterable {
    /// Holding its credits.
    case pending
    /// Spent (all or part; the rest released).
    case posted
    /// Released.
    case voided
}

/// Credits held for a send: posted (spent) when it goes out, voided (released) when it does not.
public struct Reservation: Codable, Sendable, Hashable {
    /// The reservation's id.
    public let id: UUID
    /// The account whose credits it holds.
    public let accountID: UUID
    /// SMS or MMS.
    public let unit: CreditUnit
    /// Credits held.
    public let amount: Int64
    /// Pending, posted or voided.
    public let status: ReservationStatus
    /// Credits spent when it was posted (at most `amount`).
    public let postedAmount: Int64
    /// The caller's reference, such as a message id.
    public let reference: String?
}

/// Where a message stands.
public enum MessageStatus: String, Codable, Sendable, CaseIterable {
    /// Waiting for its send time.
    case scheduled
    /// Waiting for the gateway.
    case queued
    /// Accepted by the gateway: its credits are spent.
    case sent
    /// Reported delivered to the handset.
    case delivered
    /// Refused or undelivered: its credits are released or refunded.
    case failed
    /// Cancelled before it went: its credits are released.
    case cancelled
    /// Received from a handset.
    case received
}

/// An SMS or MMS, sent or received.
public struct Message: Codable, Sendable, Hashable {
    /// The message's id.
    public let id: UUID
    /// The account that sent or received it.
    public let accountID: UUID
    /// True for a message received from a handset.
    public let inbound: Bool
    /// The sender's number.
    public let from: String
    /// The recipient's number.
    public let to: String
    /// The text.
    public let text: String
    /// Segments it takes (SMS) or 1 (MMS).
    public let segments: Int
    /// Credits it costs.
    public let credits: Int64
    /// Where it stands.
    public let status: MessageStatus
    /// Why it failed, if it did.
    public let failureReason: String?
}

/// Which accounts a usage report covers.
public enum UsageScope: String, Codable, Sendable, CaseIterable {
    /// The account alone.
    case account
    /// Its direct children.
    case children
    /// Everything below it.
    case descendants
}

/// How a usage report cuts its period.
public enum UsageGrouping: String, Codable, Sendable, CaseIterable {
    /// One row per calendar day.
    case day
    /// One row per calendar month.
    case month
}

/// One account's credits in one unit over one day or month: opening + in − out = closing.
public struct UsageRow: Codable, Sendable, Hashable {
    /// The account.
    public let accountID: UUID
    /// The account's name.
    public let accountName: String
    /// The first day of the row's day or month, YYYY-MM-DD in the report's time zone.
    public let periodStart: String
    /// SMS or MMS.
    public let unit: CreditUnit
    /// Posted credits at the start.
    public let opening: Int64
    /// In: grants, transfers from the parent and manual additions.
    public let granted: Int64
    /// In: packages bought.
    public let sold: Int64
    /// In: refunds.
    public let refunded: Int64
    /// Out: used, which is `sent` plus `received`.
    public let consumed: Int64
    /// Out: messages sent (posted reservations).
    public let sent: Int64
    /// Out: messages received that cost credits (inbound MMS) and other charges.
    public let received: Int64
    /// Out: unused credits expired by the parent.
    public let expired: Int64
    /// Out: manual removals.
    public let removed: Int64
    /// Out: credits passed on to children.
    public let transferredOut: Int64
    /// Posted credits at the end.
    public let closing: Int64
}

/// Usage over a period, per account, unit and day or month.
public struct UsageReport: Codable, Sendable, Hashable {
    /// One row per account, unit and day or month.
    public let rows: [UsageRow]
    /// The rows summed per unit.
    public let totals: [UsageRow]
}
