import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

// Response shapes. Keys are encoded in snake_case; ids as lowercase UUIDs; times RFC 3339.

struct AccountDTO: Encodable, Sendable {
    let id: String
    let parentId: String?
    let kind: AccountKind
    let name: String
    let status: AccountStatus
    let effectivelySuspended: Bool
    let features: [Feature]
    let effectiveFeatures: [Feature]
    let createdAt: Date

    init(_ account: AccountRecord) {
        id = account.id.lower
        parentId = account.parentID?.lower
        kind = account.kind
        name = account.name
        status = account.status
        effectivelySuspended = account.effectivelySuspended
        features = account.ownFeatures.sorted { $0.rawValue < $1.rawValue }
        effectiveFeatures = account.effectiveFeatures.sorted { $0.rawValue < $1.rawValue }
        createdAt = account.createdAt
    }
}

struct UserDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let name: String
    let email: String?
    let role: Role
    let status: String
    let createdAt: Date

    init(_ user: UserRecord) {
        id = user.id.lower
        accountId = user.accountID.lower
        name = user.name
        email = user.email
        role = user.role
        status = user.status
        createdAt = user.createdAt
    }
}

struct KeyDTO: Encodable, Sendable {
    let id: String
    let userId: String
    let prefix: String
    let label: String
    let createdAt: Date
    let lastUsedAt: Date?
    let revokedAt: Date?

    init(_ key: APIKeyRecord) {
        id = key.id.lower
        userId = key.userID.lower
        prefix = key.prefix
        label = key.label
        createdAt = key.createdAt
        lastUsedAt = key.lastUsedAt
        revokedAt = key.revokedAt
    }
}

struct NewKeyDTO: OneTimeSecretResponse, Sendable {
    let key: KeyDTO
    /// Shown once, here; only its hash is stored. Absent from a replay.
    let secret: String?
    var secretNotReplayable: Bool? = nil

    var withoutSecret: NewKeyDTO { NewKeyDTO(key: key, secret: nil, secretNotReplayable: true) }
}

struct PackageDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let name: String
    let smsCredits: Int64
    let mmsCredits: Int64
    let priceMinor: Int64
    let currency: String
    let active: Bool
    let createdAt: Date

    init(_ package: PackageRecord) {
        id = package.id.lower
        accountId = package.accountID.lower
        name = package.name
        smsCredits = package.smsCredits
        mmsCredits = package.mmsCredits
        priceMinor = package.priceMinor
        currency = package.currency
        active = package.active
        createdAt = package.createdAt
    }
}

struct SaleDTO: Encodable, Sendable {
    let id: String
    let packageId: String
    let sellerId: String
    let buyerId: String
    let smsCredits: Int64
    let mmsCredits: Int64
    let priceMinor: Int64
    let currency: String
    let createdAt: Date
    let entries: [EntryDTO]
}

struct BalanceDTO: Encodable, Sendable {
    let unit: CreditUnit
    let posted: Int64
    let reserved: Int64
    let available: Int64
    let creditLimit: Int64

    init(_ balance: Balance) {
        unit = balance.unit
        posted = balance.posted
        reserved = balance.reserved
        available = balance.available
        creditLimit = balance.creditLimit
    }
}

struct BalancesDTO: Encodable, Sendable {
    let accountId: String
    let balances: [BalanceDTO]
}

struct EntryDTO: Encodable, Sendable {
    let id: Int64
    let operationId: String
    let kind: EntryKind
    let unit: CreditUnit
    let amount: Int64
    let debitAccount: String
    let creditAccount: String
    let pending: Bool
    let reservationId: String?
    let refundedEntryId: Int64?
    let saleId: String?
    let actorUserId: String?
    let requestId: String?
    let reason: String?
    let createdAt: Date

    init(_ entry: EntryRecord) {
        id = entry.id
        operationId = entry.operationID.lower
        kind = entry.kind
        unit = entry.unit
        amount = entry.amount
        debitAccount = SystemAccount.name(of: entry.debitAccountID) ?? entry.debitAccountID.lower
        creditAccount = SystemAccount.name(of: entry.creditAccountID) ?? entry.creditAccountID.lower
        pending = entry.pending
        reservationId = entry.reservationID?.lower
        refundedEntryId = entry.refundedEntryID
        saleId = entry.saleID?.lower
        actorUserId = entry.actorUserID?.lower
        requestId = entry.requestID
        reason = entry.reason
        createdAt = entry.createdAt
    }
}

struct ReservationDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let unit: CreditUnit
    let amount: Int64
    let status: ReservationStatus
    let postedAmount: Int64
    let reference: String?
    let batchId: String?
    let createdAt: Date

    init(_ reservation: ReservationRecord) {
        id = reservation.id.lower
        accountId = reservation.accountID.lower
        unit = reservation.unit
        amount = reservation.amount
        status = reservation.status
        postedAmount = reservation.postedAmount
        reference = reservation.reference
        batchId = reservation.batchID?.lower
        createdAt = reservation.createdAt
    }
}

struct ReservationBatchDTO: Encodable, Sendable {
    let batchId: String
    let accountId: String
    let unit: CreditUnit
    let count: Int
    let totalAmount: Int64
    let balance: BalanceDTO

    init(_ batch: ReservationBatch) {
        batchId = batch.batchID.lower
        accountId = batch.accountID.lower
        unit = batch.unit
        count = batch.count
        totalAmount = batch.totalAmount
        balance = BalanceDTO(batch.balance)
    }
}

struct ClientRowDTO: Encodable, Sendable {
    let id: String
    let name: String
    let status: AccountStatus
    let smsAvailable: Int64
    let smsReserved: Int64
    let smsUsedThisMonth: Int64
    let mmsAvailable: Int64
    let mmsReserved: Int64
    let mmsUsedThisMonth: Int64

    init(_ row: ClientOverviewRow) {
        id = row.id.lower
        name = row.name
        status = row.status
        smsAvailable = row.smsAvailable
        smsReserved = row.smsReserved
        smsUsedThisMonth = row.smsUsed
        mmsAvailable = row.mmsAvailable
        mmsReserved = row.mmsReserved
        mmsUsedThisMonth = row.mmsUsed
    }
}

struct DashboardDTO: Encodable, Sendable {
    let accountId: String
    let periodStart: Date
    let smsUsed: Int64
    let mmsUsed: Int64
    let clients: Int64
    let resellers: Int64
    let balances: [BalanceDTO]
}

struct MeDTO: Encodable, Sendable {
    let user: UserDTO
    let account: AccountDTO
}

extension UUID {
    var lower: String { uuidString.lowercased() }
}

struct FeaturesDTO: Encodable, Sendable {
    let accountId: String
    let features: [String: Bool]
    let effective: [String: Bool]

    init(_ account: AccountRecord) {
        accountId = account.id.lower
        features = Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, account.ownFeatures.contains($0)) })
        effective = Dictionary(
            uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, account.effectiveFeatures.contains($0)) })
    }
}
