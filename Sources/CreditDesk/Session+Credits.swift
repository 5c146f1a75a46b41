import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

// MARK: - Packages, balances, credit moves and reservations

extension Session {
    /// Creates a package a reseller sells to its clients. Prices are in the currency's minor
    /// unit (cents); a package with MMS credits needs the reseller's own MMS.
    public func createPackage(
        on resellerID: UUID, name: String, smsCredits: Int64, mmsCredits: Int64 = 0, priceMinor: Int64,
        currency: String, idempotencyKey: String? = nil
    ) async throws -> Package {
        struct Input: Encodable { let resellerID: UUID, name: String, sms: Int64, mms: Int64, price: Int64, currency: String }
        let input = Input(resellerID: resellerID, name: name, sms: smsCredits, mms: mmsCredits, price: priceMinor, currency: currency)
        return try await mutate("createPackage", input, key: idempotencyKey) { connection, principal, operation in
            Package(
                try Operations.createPackage(
                    connection, principal, operation, accountID: resellerID, name: name, smsCredits: smsCredits, mmsCredits: mmsCredits,
                    priceMinor: priceMinor, currency: currency, active: true))
        }
    }

    /// A reseller's packages, active and inactive.
    public func packages(of resellerID: UUID) async throws -> [Package] {
        try await read { try Operations.packages($0, $1, accountID: resellerID, active: nil).map(Package.init) }
    }

    /// Sells a package to one of the reseller's clients: its credits move from the reseller.
    public func sell(_ packageID: UUID, to clientID: UUID, idempotencyKey: String? = nil) async throws -> Sale {
        try await mutate("sell \(packageID) \(clientID)", "", key: idempotencyKey) {
            let (sale, entries) = try Operations.sellPackage($0, $1, $2, buyerID: clientID, packageID: packageID)
            return Sale(sale, entries: entries)
        }
    }

    /// An account's SMS and MMS balances.
    public func balances(of accountID: UUID) async throws -> [Balance] {
        try await read { try Operations.balances($0, $1, accountID: accountID).1.map(Balance.init) }
    }

    /// Adds credits to an account below the session's own (positive `delta`), or removes
    /// them (negative). The counterparty is the acting account's own pool. Above the acting
    /// account's approval threshold nothing moves: the movement is recorded as a request for
    /// a second admin and this throws `CreditDeskError.approvalPending` with its
    /// `approval_id` (a replay of the same key throws the same).
    public func adjust(
        _ accountID: UUID, _ unit: CreditUnit, by delta: Int64, reason: String, idempotencyKey: String? = nil
    ) async throws -> Entry {
        struct Input: Encodable { let accountID: UUID, unit: CreditUnit, delta: Int64, reason: String }
        return try await mutate(
            "adjust", Input(accountID: accountID, unit: unit, delta: delta, reason: reason), key: idempotencyKey
        ) {
            Moved(try Operations.adjust($0, $1, $2, accountID: accountID, unit: unit.sameCase(), delta: delta, reason: reason))
        }.entry()
    }

    /// Moves credits from an account to one of its direct children; above the acting account's
    /// approval threshold, held like `adjust`.
    public func transfer(
        _ amount: Int64, _ unit: CreditUnit, from sourceID: UUID, to destinationID: UUID, reason: String? = nil,
        idempotencyKey: String? = nil
    ) async throws -> Entry {
        struct Input: Encodable { let amount: Int64, unit: CreditUnit, from: UUID, to: UUID, reason: String? }
        let input = Input(amount: amount, unit: unit, from: sourceID, to: destinationID, reason: reason)
        return try await mutate("transfer", input, key: idempotencyKey) {
            Moved(
                try Operations.transfer(
                    $0, $1, $2, fromID: sourceID, toID: destinationID, unit: unit.sameCase(), amount: amount, reason: reason))
        }.entry()
    }

    /// Charges credits at once, without a reservation (e.g. a received MMS).
    public func charge(
        _ accountID: UUID, _ unit: CreditUnit, _ amount: Int64, reason: String? = nil, idempotencyKey: String? = nil
    ) async throws -> Entry {
        struct Input: Encodable { let accountID: UUID, unit: CreditUnit, amount: Int64, reason: String? }
        return try await mutate(
            "charge", Input(accountID: accountID, unit: unit, amount: amount, reason: reason), key: idempotencyKey
        ) {
            Entry(try Operations.charge($0, $1, $2, accountID: accountID, unit: unit.sameCase(), amount: amount, reason: reason))
        }
    }

    /// Holds credits for a send; ``post(_:amount:idempotencyKey:)`` spends them,
    /// ``void(_:idempotencyKey:)`` releases them.
    public func reserve(
        _ amount: Int64, _ unit: CreditUnit, on accountID: UUID, reference: String? = nil, idempotencyKey: String? = nil
    ) async throws -> Reservation {
        struct Input: Encodable { let amount: Int64, unit: CreditUnit, accountID: UUID, reference: String? }
        let input = Input(amount: amount, unit: unit, accountID: accountID, reference: reference)
        return try await mutate("reserve", input, key: idempotencyKey) {
            Reservation(
                try Operations.reserve(
                    $0, $1, $2, accountID: accountID, unit: unit.sameCase(), amount: amount, reference: reference))
        }
    }

    /// Spends a pending reservation: all of it, or `amount` of it (the rest is released).
    public func post(_ reservationID: UUID, amount: Int64? = nil, idempotencyKey: String? = nil) async throws -> Reservation {
        try await mutate("post \(reservationID)", amount, key: idempotencyKey) {
            Reservation(try Operations.post($0, $1, $2, reservationID: reservationID, amount: amount))
        }
    }

    /// Releases a pending reservation's credits.
    public func void(_ reservationID: UUID, idempotencyKey: String? = nil) async throws -> Reservation {
        try await mutate("void \(reservationID)", "", key: idempotencyKey) {
            Reservation(try Operations.void($0, $1, $2, reservationID: reservationID))
        }
    }

    /// An account's ledger entries, newest first.
    public func entries(of accountID: UUID, limit: Int = 100) async throws -> [Entry] {
        let limit = min(max(limit, 1), Limits.maxPageSize)
        return try await read { connection, principal in
            try Operations.entries(
                connection, principal, accountID: accountID, unit: nil, kind: nil, from: nil, to: nil, beforeID: nil,
                limit: limit
            ).map(Entry.init)
        }
    }
}

/// A manual movement's outcome as the idempotency record keeps it: the entry, or the id of the
/// request that holds it. Thrown only after the commit, so the request is kept.
struct Moved: Codable, Sendable {
    let applied: Entry?
    let approvalID: UUID?

    init(_ outcome: CreditOutcome) {
        switch outcome {
        case .applied(let entry): (applied, approvalID) = (Entry(entry), nil)
        case .held(let request): (applied, approvalID) = (nil, request.id)
        }
    }

    func entry() throws -> Entry {
        if let applied { return applied }
        throw CreditDeskError(
            code: CreditDeskError.approvalPending, message: "above the approval threshold: held for a second admin",
            details: ["approval_id": approvalID?.uuidString.lowercased() ?? ""])
    }
}
