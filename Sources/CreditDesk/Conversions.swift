import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

// The library's values from the services' records. The library's enums spell the same
// cases as the core's (a test checks each pair), so converting by raw value cannot fail.

extension Account {
    init(_ record: AccountRecord) {
        self.init(
            id: record.id, parentID: record.parentID, kind: record.kind.sameCase(), name: record.name,
            suspended: record.effectivelySuspended, features: Set(record.ownFeatures.map { $0.sameCase() }),
            effectiveFeatures: Set(record.effectiveFeatures.map { $0.sameCase() }), createdAt: record.createdAt)
    }
}

extension User {
    init(_ record: UserRecord) {
        self.init(id: record.id, accountID: record.accountID, name: record.name, email: record.email, role: record.role.sameCase())
    }
}

extension APIKey {
    init(_ record: APIKeyRecord) {
        self.init(id: record.id, userID: record.userID, prefix: record.prefix, label: record.label, revoked: record.revokedAt != nil)
    }
}

extension Balance {
    init(_ balance: CreditDeskStore.Balance) {
        self.init(
            unit: balance.unit.sameCase(), posted: balance.posted, reserved: balance.reserved,
            available: balance.available, creditLimit: balance.creditLimit)
    }
}

extension Entry {
    init(_ record: EntryRecord) {
        self.init(
            id: record.id, kind: record.kind.sameCase(), unit: record.unit.sameCase(), amount: record.amount,
            debitAccountID: record.debitAccountID, creditAccountID: record.creditAccountID, reason: record.reason,
            createdAt: record.createdAt)
    }
}

extension Package {
    init(_ record: PackageRecord) {
        self.init(
            id: record.id, resellerID: record.accountID, name: record.name, smsCredits: record.smsCredits,
            mmsCredits: record.mmsCredits, priceMinor: record.priceMinor, currency: record.currency, active: record.active)
    }
}

extension Sale {
    init(_ record: SaleRecord, entries: [EntryRecord]) {
        self.init(
            id: record.id, packageID: record.packageID, buyerID: record.buyerID, smsCredits: record.smsCredits,
            mmsCredits: record.mmsCredits, priceMinor: record.priceMinor,
            currency: record.currency, entries: entries.map(Entry.init))
    }
}

extension Reservation {
    init(_ record: ReservationRecord) {
        self.init(
            id: record.id, accountID: record.accountID, unit: record.unit.sameCase(), amount: record.amount,
            status: record.status.sameCase(), postedAmount: record.postedAmount, reference: record.reference)
    }
}

extension Message {
    init(_ record: MessageRecord) {
        self.init(
            id: record.id, accountID: record.accountID, inbound: record.direction == .inbound, from: record.sender,
            to: record.recipient, text: record.body, segments: record.segments, credits: record.credits,
            status: record.status.sameCase(), failureReason: record.failureReason)
    }
}

extension UsageRow {
    init(_ row: CreditDeskStore.UsageRow) {
        self.init(
            accountID: row.accountID, accountName: row.accountName, periodStart: row.bucket, unit: row.unit.sameCase(),
            opening: row.opening, granted: row.flows.granted, sold: row.flows.sold, refunded: row.flows.refunded,
            consumed: row.flows.consumed, sent: row.flows.sent, received: row.flows.received,
            expired: row.flows.expired, removed: row.flows.removed, transferredOut: row.flows.transferredOut,
            closing: row.closing)
    }
}
