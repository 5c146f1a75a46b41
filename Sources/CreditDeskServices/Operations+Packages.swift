import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// A reseller's package catalogue and package sales.
extension Operations {
    package static func createPackage(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        name: String, smsCredits: Int64, mmsCredits: Int64, priceMinor: Int64, currency: String, active: Bool
    ) throws -> PackageRecord {
        let owner = try account(connection, principal, accountID, for: .managePackages)
        guard owner.kind == .reseller else { throw DomainError.wrongKind("account_id", "only resellers sell packages") }
        guard (0...Limits.maxAmount).contains(smsCredits) else {
            throw DomainError.invalid("sms_credits", "must be between 0 and \(Limits.maxAmount)")
        }
        guard (0...Limits.maxAmount).contains(mmsCredits) else {
            throw DomainError.invalid("mms_credits", "must be between 0 and \(Limits.maxAmount)")
        }
        guard smsCredits + mmsCredits > 0 else {
            throw DomainError.invalid("sms_credits", "a package must grant some SMS or MMS credits")
        }
        guard (0...Limits.maxPriceMinor).contains(priceMinor) else {
            throw DomainError.invalid("price_minor", "must be between 0 and \(Limits.maxPriceMinor)")
        }
        if mmsCredits > 0 { try requireUnitAllowed(owner, .mms) }
        let package = try PackageStore.create(
            connection, owner: owner, name: try Validate.name(name), smsCredits: smsCredits, mmsCredits: mmsCredits,
            priceMinor: priceMinor, currency: try Validate.currency(currency), active: active)
        try AuditStore.append(
            connection, context, account: owner,
            AuditEvent(.packageCreated, objectID: package.id, changes: .created(auditFields(package))))
        return package
    }

    static func auditFields(_ package: PackageRecord) -> [String: AuditValue?] {
        [
            "name": .text(package.name), "sms_credits": .number(package.smsCredits),
            "mms_credits": .number(package.mmsCredits), "price_minor": .number(package.priceMinor),
            "currency": .text(package.currency), "active": .flag(package.active),
        ]
    }

    static func package(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action) throws
        -> (PackageRecord, AccountRecord)
    {
        try owned(connection, principal, try PackageStore.find(connection, id: id), owner: \.accountID, for: action, what: "package")
    }

    package static func packages(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID, active: Bool?)
        throws -> [PackageRecord]
    {
        _ = try account(connection, principal, accountID, for: .read)
        return try PackageStore.list(connection, accountID: accountID, active: active)
    }

    package static func updatePackage(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, id: UUID, name: String?,
        active: Bool?
    ) throws -> PackageRecord {
        let owner = try package(connection, principal, id, for: .managePackages).1
        try AuditStore.lock(connection, tenantID: owner.tenantID)
        let before = try PackageStore.find(connection, id: id)!
        let after = try PackageStore.update(connection, id: id, name: try name.map { try Validate.name($0) }, active: active)
        try AuditStore.appendChanges(
            connection, context, account: owner, .packageUpdated, objectID: id.lower, before: auditFields(before),
            after: auditFields(after))
        return after
    }

    /// Sells a package to a direct child of its reseller: the package's credits move from the
    /// reseller's pool to the buyer, and the sale (price, currency) is recorded.
    package static func sellPackage(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, buyerID: UUID,
        packageID: UUID
    ) throws -> (SaleRecord, [EntryRecord]) {
        let buyer = try account(connection, principal, buyerID, for: .manageCredits)
        let (package, seller) = try package(connection, principal, packageID, for: .read)
        guard buyer.parentID == seller.id else {
            throw DomainError.beyondState("package_id", "the package belongs to a reseller that is not this account's parent")
        }
        guard package.active else { throw DomainError(.conflict, "package \(package.name) is not active") }
        if package.mmsCredits > 0 { try requireUnitAllowed(buyer, .mms) }
        let sale = try PackageStore.recordSale(connection, context, package: package, buyer: buyer)
        var entries = [EntryRecord]()
        for (unit, amount) in [(CreditUnit.sms, package.smsCredits), (.mms, package.mmsCredits)] where amount > 0 {
            entries.append(
                try LedgerStore.move(
                    connection, context, kind: .sale, unit: unit, amount: amount, from: pool(of: seller),
                    to: .customer(buyer), reason: "package \(package.name)", saleID: sale.id))
        }
        return (sale, entries)
    }

    /// The platform's pool is issuance: it can create credits. Anyone else gives what it has.
    static func pool(of account: AccountRecord) -> LedgerParty {
        account.kind == .platform ? .system(SystemAccount.issuance) : .customer(account)
    }

    /// The acting user's own pool; the platform's (issuance) needs no lookup.
    static func pool(of principal: Principal, _ connection: PostgresConnection) throws -> LedgerParty {
        if principal.accountKind == .platform { return .system(SystemAccount.issuance) }
        guard let actorAccount = try AccountStore.find(connection, id: principal.accountID) else {
            throw DomainError(.unauthorized, "the acting account no longer exists")
        }
        return pool(of: actorAccount)
    }
}
