import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

// The contract's response types, built straight from the services' records: one
// representation of each answer, the one the contract documents.

extension Components.Schemas.Account {
    init(_ account: AccountRecord) {
        self.init(
            id: account.id.objectID, parentId: account.parentID?.objectID, kind: account.kind.sameCase(), name: account.name,
            status: account.status.sameCase(), effectivelySuspended: account.effectivelySuspended,
            features: account.ownFeatures.sorted { $0.rawValue < $1.rawValue }.map { $0.sameCase() },
            effectiveFeatures: account.effectiveFeatures.sorted { $0.rawValue < $1.rawValue }.map { $0.sameCase() },
            createdAt: account.createdAt)
    }
}

extension Components.Schemas.User {
    init(_ user: UserRecord) {
        self.init(
            id: user.id.objectID, accountId: user.accountID.objectID, name: user.name, email: user.email,
            role: user.role.sameCase(), status: user.status, createdAt: user.createdAt)
    }
}

extension Components.Schemas.Key {
    init(_ key: APIKeyRecord) {
        self.init(
            id: key.id.objectID, userId: key.userID.objectID, prefix: key.prefix, label: key.label,
            createdAt: key.createdAt, lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt,
            scope: key.limits.scope.sameCase(), allowedAddresses: key.limits.allowedAddresses.map(\.description),
            expiresAt: key.limits.expiresAt)
    }
}

/// The secret is shown once, here; only its hash is stored. A replay answers without it.
extension Components.Schemas.NewKey: OneTimeSecretResponse {
    var withoutSecret: Self { Self(key: key, secret: nil, secretNotReplayable: true) }
}

extension Components.Schemas.Features {
    init(_ account: AccountRecord) {
        self.init(
            accountId: account.id.objectID, features: .init(account.ownFeatures),
            effective: .init(account.effectiveFeatures))
    }
}

extension Components.Schemas.FeatureFlags {
    init(_ features: Set<Feature>) {
        self.init(
            mms: features.contains(.mms), international: features.contains(.international),
            campaigns: features.contains(.campaigns), scheduling: features.contains(.scheduling),
            inbound: features.contains(.inbound))
    }
}

extension Components.Schemas.Package {
    init(_ package: PackageRecord) {
        self.init(
            id: package.id.objectID, accountId: package.accountID.objectID, name: package.name,
            smsCredits: package.smsCredits, mmsCredits: package.mmsCredits, priceMinor: package.priceMinor,
            currency: package.currency, active: package.active, createdAt: package.createdAt)
    }
}

extension Components.Schemas.Sale {
    init(_ sale: SaleRecord, entries: [EntryRecord]) {
        self.init(
            id: sale.id.objectID, packageId: sale.packageID.objectID, sellerId: sale.sellerID.objectID,
            buyerId: sale.buyerID.objectID, smsCredits: sale.smsCredits, mmsCredits: sale.mmsCredits,
            priceMinor: sale.priceMinor, currency: sale.currency, createdAt: sale.createdAt,
            entries: entries.map(Components.Schemas.Entry.init))
    }
}

extension Components.Schemas.Balance {
    init(_ balance: Balance) {
        self.init(
            unit: balance.unit.sameCase(), posted: balance.posted, reserved: balance.reserved,
            available: balance.available, creditLimit: balance.creditLimit)
    }
}

extension Components.Schemas.Entry {
    init(_ entry: EntryRecord) {
        self.init(
            id: entry.id, operationId: entry.operationID.objectID, kind: entry.kind.sameCase(), unit: entry.unit.sameCase(),
            amount: entry.amount,
            debitAccount: SystemAccount.name(of: entry.debitAccountID) ?? entry.debitAccountID.lower,
            creditAccount: SystemAccount.name(of: entry.creditAccountID) ?? entry.creditAccountID.lower,
            pending: entry.pending, reservationId: entry.reservationID?.objectID, refundedEntryId: entry.refundedEntryID,
            saleId: entry.saleID?.objectID, actorUserId: entry.actorUserID?.objectID, requestId: entry.requestID,
            reason: entry.reason, createdAt: entry.createdAt)
    }
}

extension Components.Schemas.Reservation {
    init(_ reservation: ReservationRecord) {
        self.init(
            id: reservation.id.objectID, accountId: reservation.accountID.objectID, unit: reservation.unit.sameCase(),
            amount: reservation.amount, status: reservation.status.sameCase(), postedAmount: reservation.postedAmount,
            reference: reservation.reference, batchId: reservation.batchID?.objectID, createdAt: reservation.createdAt)
    }
}

extension Components.Schemas.ReservationBatch {
    init(_ batch: ReservationBatch) {
        self.init(
            batchId: batch.batchID.objectID, accountId: batch.accountID.objectID, unit: batch.unit.sameCase(),
            count: batch.count, totalAmount: batch.totalAmount, balance: .init(batch.balance))
    }
}

extension Components.Schemas.ClientRow {
    init(_ row: ClientOverviewRow) {
        self.init(
            id: row.id.objectID, name: row.name, status: row.status.sameCase(), smsAvailable: row.smsAvailable,
            smsReserved: row.smsReserved, smsUsedThisMonth: row.smsUsed, mmsAvailable: row.mmsAvailable,
            mmsReserved: row.mmsReserved, mmsUsedThisMonth: row.mmsUsed)
    }
}

/// A page of the contract: `items` and the cursor of the next page, if any.
protocol ContractPage {
    associatedtype Item
    init(items: [Item], nextCursor: String?)
}

extension ContractPage {
    /// A keyset page from `rows` fetched with `limit + 1`: the first `limit` rows, and a cursor
    /// after the last of them when the extra row shows there is more.
    init<Row>(rows: [Row], limit: Int, item: (Row) -> Item, cursor: (Row) -> [String]) {
        let page = rows.prefix(limit)
        self.init(
            items: page.map(item), nextCursor: rows.count > limit ? page.last.map { Cursor.encode(cursor($0)) } : nil)
    }

    /// Everything in one page.
    init(all items: [Item]) { self.init(items: items, nextCursor: nil) }
}

extension Components.Schemas.AccountPage: ContractPage {}
extension Components.Schemas.UserPage: ContractPage {}
extension Components.Schemas.KeyPage: ContractPage {}
extension Components.Schemas.PackagePage: ContractPage {}
extension Components.Schemas.EntryPage: ContractPage {}
extension Components.Schemas.ReservationPage: ContractPage {}
extension Components.Schemas.ClientRowPage: ContractPage {}
