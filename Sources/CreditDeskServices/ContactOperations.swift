import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Contacts, lists and the messaging settings of a client account. Contacts are kept by the
/// people who send (client users and above); the reply match order is an admin's setting.
package enum ContactOperations {
    package struct ContactInput: Sendable {
        package var firstName: String?
        package var lastName: String?
        package var mobile: String?
        package var workPhone: String?
        package var homePhone: String?
        package var email: String?
        package var smsConsent: Bool?

        package init(
            firstName: String?, lastName: String?, mobile: String?, workPhone: String?, homePhone: String?,
            email: String?, smsConsent: Bool?
        ) {
            self.firstName = firstName
            self.lastName = lastName
            self.mobile = mobile
            self.workPhone = workPhone
            self.homePhone = homePhone
            self.email = email
            self.smsConsent = smsConsent
        }

        /// Applies the fields given onto `contact`; an empty string clears an optional field.
        func apply(to contact: inout ContactRecord, prefix: String) throws {
            func phone(_ value: String?, _ field: String, _ current: String?) throws -> String? {
                guard let value else { return current }
                if value.isEmpty { return nil }
                return try PhoneNumber.parse(value, field: prefix + field).e164
            }
            if let firstName { contact.firstName = try Validate.name(firstName, field: prefix + "first_name") }
            guard contact.firstName.unicodeScalars.count <= 100 else { throw DomainError.invalid(prefix + "first_name", "must be at most 100 characters") }
            if let lastName {
                contact.lastName = lastName.isEmpty ? nil : try Validate.name(lastName, field: prefix + "last_name")
                guard (contact.lastName?.unicodeScalars.count ?? 0) <= 100 else {
                    throw DomainError.invalid(prefix + "last_name", "must be at most 100 characters")
                }
            }
            contact.mobile = try phone(mobile, "mobile", contact.mobile)
            contact.workPhone = try phone(workPhone, "work_phone", contact.workPhone)
            contact.homePhone = try phone(homePhone, "home_phone", contact.homePhone)
            if let email {
                do { contact.email = email.isEmpty ? nil : try Validate.email(email) } catch {
                    throw DomainError.invalid(prefix + "email", "is not an email address")
                }
            }
            if let smsConsent { contact.smsConsent = smsConsent }
        }
    }

    /// At most this many contacts in one batch request.
    package static let maxBatch = 10_000

    static func clientAccount(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action) throws
        -> AccountRecord
    {
        let account = try Operations.account(connection, principal, id, for: action)
        guard account.kind == .client else { throw DomainError.wrongKind("account", "contacts belong to client accounts") }
        return account
    }

    /// Creates contacts, all or nothing, optionally adding them to a list of the same account.
    package static func createContacts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, inputs: [ContactInput], listID: UUID?
    ) throws -> [ContactRecord] {
        let account = try clientAccount(connection, principal, accountID, for: .consumeCredits)
        guard (1...maxBatch).contains(inputs.count) else {
            throw DomainError.invalid("contacts", "must hold 1 to \(maxBatch) contacts")
        }
        let list = try listID.map { try loadList(connection, principal, $0, for: .consumeCredits) }
        if let list, list.accountID != account.id { throw DomainError.invalid("list_id", "is a list of another account") }
        var created: [ContactRecord] = []
        created.reserveCapacity(inputs.count)
        for (index, input) in inputs.enumerated() {
            guard input.firstName != nil else { throw DomainError.invalid("contacts[\(index)].first_name", "is required") }
            var contact = ContactRecord(
                id: UUID(), tenantID: account.tenantID, accountID: account.id, firstName: "", lastName: nil, mobile: nil,
                workPhone: nil, homePhone: nil, email: nil, smsConsent: false, createdAt: Date())
            try input.apply(to: &contact, prefix: inputs.count == 1 ? "" : "contacts[\(index)].")
            created.append(try ContactStore.insert(connection, contact))
        }
        if let list { try ContactStore.addMembers(connection, list: list, contactIDs: created.map(\.id)) }
        return created
    }

    package static func updateContact(
        _ connection: PostgresConnection, _ principal: Principal, contactID: UUID, input: ContactInput
    ) throws -> ContactRecord {
        var (contact, _) = try Operations.owned(
            connection, principal, try ContactStore.lockContact(connection, id: contactID), owner: \.accountID,
            for: .consumeCredits, what: "contact")
        try input.apply(to: &contact, prefix: "")
        return try ContactStore.update(connection, contact)
    }

    package static func contacts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, search: String?, after: (String, UUID)?,
        limit: Int
    ) throws -> [ContactRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        let search = search.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        return try ContactStore.contacts(connection, accountID: accountID, search: search, after: after, limit: limit)
    }

    // MARK: lists

    package static func createList(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID, name: String)
        throws -> ContactListRecord
    {
        let account = try clientAccount(connection, principal, accountID, for: .consumeCredits)
        return try ContactStore.createList(connection, account: account, name: try Validate.name(name))
    }

    static func loadList(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action) throws
        -> ContactListRecord
    {
        try Operations.owned(
            connection, principal, try ContactStore.list(connection, id: id), owner: \.accountID, for: action,
            what: "contact list"
        ).0
    }

    package static func lists(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, after: (String, UUID)?, limit: Int
    ) throws -> [ContactListRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try ContactStore.lists(connection, accountID: accountID, after: after, limit: limit)
    }

    package static func addMembers(_ connection: PostgresConnection, _ principal: Principal, listID: UUID, contactIDs: [UUID])
        throws -> ContactListRecord
    {
        let list = try loadList(connection, principal, listID, for: .consumeCredits)
        guard (1...maxBatch).contains(contactIDs.count) else {
            throw DomainError.invalid("contact_ids", "must hold 1 to \(maxBatch) ids")
        }
        try ContactStore.addMembers(connection, list: list, contactIDs: contactIDs)
        return try ContactStore.list(connection, id: listID)!
    }

    /// Batch unsubscribe by list: every member's mobile goes on the account's opt-out list.
    package static func optOutList(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        listID: UUID
    ) throws -> [String] {
        let account = try Operations.account(connection, principal, accountID, for: .manageMessaging)
        let list = try loadList(connection, principal, listID, for: .read)
        guard list.accountID == account.id else { throw DomainError.invalid("list_id", "is a list of another account") }
        let phones = try ContactStore.optOutMembers(connection, listID: list.id)
        try MessagingOperations.auditOptOuts(connection, context, account: account, phones, source: "list \(list.id.lower)")
        return phones
    }

    // MARK: settings

    package static func setReplyMatchOrder(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, accountID: UUID,
        order: [String]
    ) throws -> [ContactPhoneField] {
        let account = try clientAccount(connection, principal, accountID, for: .manageMessaging)
        let order = try ContactPhoneField.matchOrder(order)
        try AuditStore.lock(connection, tenantID: account.tenantID)
        let before = try ContactStore.replyMatchOrder(connection, accountID: account.id)
        try ContactStore.setReplyMatchOrder(connection, account: account, order: order)
        try AuditStore.appendChanges(
            connection, context, account: account, .replyMatchOrderChanged, objectID: account.id.lower,
            before: ["order": .list(before.map(\.rawValue))], after: ["order": .list(order.map(\.rawValue))])
        return order
    }

    package static func replyMatchOrder(_ connection: PostgresConnection, _ principal: Principal, accountID: UUID) throws
        -> [ContactPhoneField]
    {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try ContactStore.replyMatchOrder(connection, accountID: accountID)
    }
}
