import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Every admin and ledger operation, with its authorization and domain rules, over a
/// connection inside the caller's transaction. The API and the CLI both call these, so a rule
/// lives in exactly one place.
package enum Operations {
    // MARK: loading with authorization

    /// The account, if `principal` may do `action` to it; `not_found` outside its subtree.
    package static func account(
        _ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action
    ) throws -> AccountRecord {
        try authorized(try AccountStore.find(connection, id: id), principal, for: action)
    }

    /// `account`, loaded by the caller (nil: not found), if `principal` may do `action` to it.
    static func authorized(_ account: AccountRecord?, _ principal: Principal, for action: Action) throws -> AccountRecord {
        guard let account else { throw DomainError.notFound("account") }
        try Authorization.check(principal, action, targetPath: account.path)
        return account
    }

    /// An object of some account (a user, package, message...) and that account, if `principal`
    /// may do `action` to it. A missing object, a missing owner and an owner outside the
    /// principal's subtree all answer `not_found` naming `what`: no id leaks across tenants.
    static func owned<Object>(
        _ connection: PostgresConnection, _ principal: Principal, _ object: Object?, owner: (Object) -> UUID,
        for action: Action, what: String
    ) throws -> (Object, AccountRecord) {
        guard let object, let account = try AccountStore.find(connection, id: owner(object)) else {
            throw DomainError.notFound(what)
        }
        try Authorization.check(principal, action, targetPath: account.path, what: what)
        return (object, account)
    }

    static func requireUnitAllowed(_ account: AccountRecord, _ unit: CreditUnit) throws {
        if let feature = unit.requiredFeature, !account.effectiveFeatures.contains(feature) {
            throw DomainError(
                .featureDisabled, "\(feature.rawValue) is not enabled for account \(account.name)",
                details: ["feature": .string(feature.rawValue), "account_id": .string(account.id.uuidString.lowercased())])
        }
    }

    /// Takes the tenant's audit lock, then reads `account` again: what an audited change
    /// compares with is then what the previous audited change left (sql/0015_audit_log.sql).
    static func lockedForAudit(_ connection: PostgresConnection, _ account: AccountRecord) throws -> AccountRecord {
        try AuditStore.lock(connection, tenantID: account.tenantID)
        return try AccountStore.find(connection, id: account.id) ?? account
    }

    static func requireActive(_ account: AccountRecord) throws {
        if account.effectivelySuspended {
            throw DomainError(.accountSuspended, "account \(account.name) is suspended")
        }
    }

    // MARK: accounts

    package static func createAccount(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, parentID: UUID,
        kind: AccountKind, name: String
    ) throws -> AccountRecord {
        let parent = try account(connection, principal, parentID, for: .read)
        // Creating under `parent` manages the parent's subtree: the parent itself may do it.
        guard Authorization.roleAllows(principal.role, .manageAccounts, accountKind: principal.accountKind) else {
            throw DomainError(.forbidden, "the \(principal.role.rawValue) role may not create accounts")
        }
        guard parent.kind.allowedChildren.contains(kind) else {
            throw DomainError.wrongKind("kind", "a \(parent.kind.rawValue) cannot have a \(kind.rawValue) under it")
        }
        let created = try AccountStore.create(connection, parent: parent, kind: kind, name: try Validate.name(name))
        try AuditStore.append(connection, context, account: created, Self.created(created))
        return created
    }

    static func created(_ account: AccountRecord) -> AuditEvent {
        AuditEvent(
            .accountCreated, objectID: account.id,
            changes: .created([
                "kind": .text(account.kind.rawValue), "name": .text(account.name),
                "parent_id": account.parentID.map { .text($0.lower) },
            ]))
    }

    /// Renames, suspends or reactivates: one audit row per change made (none for a value
    /// set to what it already was).
    package static func updateAccount(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, id: UUID, name: String?,
        status: AccountStatus?
    ) throws -> AccountRecord {
        let before = try lockedForAudit(connection, try account(connection, principal, id, for: .manageAccounts))
        try AccountStore.update(connection, id: id, name: try name.map { try Validate.name($0) }, status: status)
        let after = try AccountStore.find(connection, id: id)!
        try AuditStore.appendChanges(
            connection, context, account: after, .accountRenamed, objectID: id.lower, before: ["name": .text(before.name)],
            after: ["name": .text(after.name)])
        try AuditStore.appendChanges(
            connection, context, account: after, after.status == .suspended ? .accountSuspended : .accountReactivated,
            objectID: id.lower, before: ["status": .text(before.status.rawValue)], after: ["status": .text(after.status.rawValue)])
        return after
    }

    package static func children(
        _ connection: PostgresConnection, _ principal: Principal, parentID: UUID, search: String?,
        after cursor: AccountStore.ChildCursor?, limit: Int
    ) throws -> [AccountRecord] {
        _ = try account(connection, principal, parentID, for: .read)
        return try AccountStore.children(connection, parentID: parentID, search: search, after: cursor, limit: limit)
    }

    /// Switches features on or off; those not named keep their value.
    package static func setFeatures(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, id: UUID,
        changes: [Feature: Bool]
    ) throws -> AccountRecord {
        let target = try lockedForAudit(connection, try account(connection, principal, id, for: .manageFeatures))
        var features = target.ownFeatures
        for (feature, enabled) in changes {
            if enabled { features.insert(feature) } else { features.remove(feature) }
        }
        try AccountStore.setFeatures(connection, id: id, features: features)
        let flags = { (set: Set<Feature>) in
            Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, AuditValue?.some(.flag(set.contains($0)))) })
        }
        try AuditStore.appendChanges(
            connection, context, account: target, .featuresChanged, objectID: id.lower, before: flags(target.ownFeatures),
            after: flags(features))
        return try AccountStore.find(connection, id: id)!
    }

    // MARK: credits

    package static func balances(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> (AccountRecord, [Balance])
    {
        // Read together (one round trip); nothing is answered before the check.
        let (account, balances) = try LedgerStore.accountWithBalances(connection, id: accountID)
        return (try authorized(account, principal, for: .read), balances)
    }

    package static func reserve(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, amount: Int64, reference: String?
    ) throws -> ReservationRecord {
        let target = try account(connection, principal, accountID, for: .consumeCredits)
        try requireActive(target)
        try requireUnitAllowed(target, unit)
        return try LedgerStore.reserve(
            connection, context, account: target, unit: unit, amount: try Validate.amount(amount),
            reference: try Validate.reference(reference))
    }

    /// Reserves credits for many messages in one transaction (a campaign): all or none.
    package static func reserveBatch(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, items: [(amount: Int64, reference: String?)]
    ) throws -> ReservationBatch {
        let target = try account(connection, principal, accountID, for: .consumeCredits)
        try requireActive(target)
        try requireUnitAllowed(target, unit)
        guard (1...Limits.maxBulkReservations).contains(items.count) else {
            throw DomainError.invalid("items", "must hold between 1 and \(Limits.maxBulkReservations) reservations")
        }
        for (index, item) in items.enumerated() {
            _ = try Validate.amount(item.amount, field: "items[\(index)].amount")
            _ = try Validate.reference(item.reference, field: "items[\(index)].reference")
        }
        return try LedgerStore.reserveBatch(connection, context, account: target, unit: unit, items: items)
    }

    package static func reservations(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, status: ReservationStatus?,
        batchID: UUID?, afterID: UUID?, limit: Int
    ) throws -> [ReservationRecord] {
        _ = try account(connection, principal, accountID, for: .read)
        return try LedgerStore.reservations(
            connection, accountID: accountID, status: status, batchID: batchID, afterID: afterID, limit: limit)
    }

    static func reservation(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID) throws
        -> ReservationRecord
    {
        try owned(
            connection, principal, try LedgerStore.lockReservation(connection, id: id), owner: \.accountID,
            for: .consumeCredits, what: "reservation"
        ).0
    }

    package static func post(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, reservationID: UUID,
        amount: Int64?
    ) throws -> ReservationRecord {
        try LedgerStore.post(connection, context, reservation: try reservation(connection, principal, reservationID), amount: amount)
    }

    package static func void(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, reservationID: UUID
    ) throws -> ReservationRecord {
        try LedgerStore.void(connection, context, reservation: try reservation(connection, principal, reservationID))
    }

    package static func charge(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, amount: Int64, reason: String?
    ) throws -> EntryRecord {
        let target = try account(connection, principal, accountID, for: .consumeCredits)
        try requireActive(target)
        try requireUnitAllowed(target, unit)
        return try LedgerStore.charge(
            connection, context, account: target, unit: unit, amount: try Validate.amount(amount),
            reason: try Validate.reason(reason, required: false))
    }

    /// Expires a child's unused credits (end of a term, a lapsed package). Like a removal it
    /// needs credit management over the account, but the credits do not go back to anyone's
    /// pool: they were paid for and are used up by time.
    package static func expire(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        unit: CreditUnit, amount: Int64?, reason: String?
    ) throws -> EntryRecord {
        let target = try account(connection, principal, accountID, for: .manageCredits)
        if let amount { _ = try Validate.amount(amount) }
        return try LedgerStore.expire(
            connection, context, account: target, unit: unit, amount: amount,
            reason: try Validate.reason(reason, required: false) ?? "credits expired")
    }

    /// Refunds a posted charge (or post) to the account it consumed from. Needs credit
    /// management over that account: a client cannot refund itself.
    package static func refund(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, entryID: Int64,
        amount: Int64?, reason: String?
    ) throws -> EntryRecord {
        let (entry, owner) = try owned(
            connection, principal, try LedgerStore.lockEntry(connection, id: entryID)?.0, owner: \.debitAccountID,
            for: .manageCredits, what: "entry")
        if let amount { _ = try Validate.amount(amount) }
        return try LedgerStore.refund(
            connection, context, entry: entry, account: owner, amount: amount,
            reason: try Validate.reason(reason, required: true))
    }

    package static func entries(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, unit: CreditUnit?, kind: EntryKind?,
        from: Date?, to: Date?, beforeID: Int64?, limit: Int
    ) throws -> [EntryRecord] {
        _ = try account(connection, principal, accountID, for: .read)
        return try LedgerStore.entries(
            connection, accountID: accountID, unit: unit, kind: kind, from: from, to: to, beforeID: beforeID,
            limit: limit)
    }
}

// MARK: usage

extension Operations {
    /// A JSON-sized usage report covers at most this many accounts; larger scopes use the export.
    package static let maxReportAccounts = 1_000

    package struct UsageReport: Sendable {
        package let rows: [UsageRow]
        package let totals: [UsageRow]
        package let revenue: [RevenueRow]
    }

    package static func usageReport(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, scope: UsageScope, period: UsagePeriod,
        grouping: UsageGrouping
    ) throws -> UsageReport {
        let root = try account(connection, principal, accountID, for: .read)
        let accounts = try UsageStore.scope(
            connection, root: root.id, scope: scope, after: nil, limit: maxReportAccounts + 1)
        guard accounts.count <= maxReportAccounts else {
            throw DomainError(
                .invalidRequest,
                "more than \(maxReportAccounts) accounts in scope: use the export (…/usage/export) instead",
                details: ["field": .string("scope")])
        }
        let rows = try UsageStore.usage(connection, accounts: accounts, period: period, grouping: grouping)
        return UsageReport(
            rows: rows, totals: totals(rows, root: root, period: period),
            revenue: try UsageStore.revenue(connection, root: root.id, scope: scope, period: period))
    }

    /// Per unit over the whole scope: flows add up; opening is each account's first opening,
    /// closing each account's last closing.
    static func totals(_ rows: [UsageRow], root: AccountRecord, period: UsagePeriod) -> [UsageRow] {
        CreditUnit.allCases.map { unit in
            let unitRows = rows.filter { $0.unit == unit }
            let byAccount = Dictionary(grouping: unitRows, by: \.accountID)
            let opening = byAccount.values.reduce(Int64(0)) { $0 + ($1.min { $0.bucket < $1.bucket }?.opening ?? 0) }
            let closing = byAccount.values.reduce(Int64(0)) { $0 + ($1.max { $0.bucket < $1.bucket }?.closing ?? 0) }
            return UsageRow(
                accountID: root.id, accountName: "total", bucket: period.from, unit: unit, opening: opening,
                flows: unitRows.reduce(UsageFlows()) { $0 + $1.flows }, closing: closing)
        }
    }
}
