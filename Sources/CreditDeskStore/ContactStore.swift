import CreditDeskCore
import CreditDeskDB
import Foundation

package struct ContactRecord: Sendable, Equatable {
    package var id: UUID
    package var tenantID: UUID
    package var accountID: UUID
    package var firstName: String
    package var lastName: String?
    package var mobile: String?
    package var workPhone: String?
    package var homePhone: String?
    package var email: String?
    package var smsConsent: Bool
    package var createdAt: Date

    package init(id: UUID, tenantID: UUID, accountID: UUID, firstName: String, lastName: String?, mobile: String?, workPhone: String?, homePhone: String?, email: String?, smsConsent: Bool, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.accountID = accountID
        self.firstName = firstName
        self.lastName = lastName
        self.mobile = mobile
        self.workPhone = workPhone
        self.homePhone = homePhone
        self.email = email
        self.smsConsent = smsConsent
        self.createdAt = createdAt
    }

    /// The values a campaign template can use.
    package var templateValues: [String: String] { ["first_name": firstName, "last_name": lastName ?? ""] }
}

package struct ContactListRecord: Sendable, Equatable {
    package let id: UUID
    package let tenantID: UUID
    package let accountID: UUID
    package let name: String
    package let members: Int
    package let createdAt: Date
}

/// Contacts, contact lists and the per-account messaging settings. Every function runs in the
/// caller's transaction.
package enum ContactStore {
    // MARK: statements

    static let contactColumns = """
        id, tenant_id, account_id, first_name, last_name, mobile, work_phone, home_phone, email, sms_consent, created_at
        """
    static let insertContact = """
        INSERT INTO contacts (tenant_id, id, account_id, first_name, last_name, mobile, work_phone, home_phone, email,
            sms_consent)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        RETURNING \(contactColumns)
        """
    static let updateContact = """
        UPDATE contacts SET first_name = $2, last_name = $3, mobile = $4, work_phone = $5, home_phone = $6, email = $7,
            sms_consent = $8, updated_at = now()
        WHERE id = $1
        RETURNING \(contactColumns)
        """
    static let lockContact = "SELECT \(contactColumns) FROM contacts WHERE id = $1 FOR UPDATE"
    /// By first name, keyset-paged after ($3, $4); `$2` searches names, numbers and email.
    static let selectContacts = """
        SELECT \(contactColumns) FROM contacts
        WHERE account_id = $1
          AND ($2::text IS NULL OR lower(first_name || ' ' || coalesce(last_name, '')) LIKE '%' || lower($2) || '%'
               OR mobile LIKE $2 || '%' OR work_phone LIKE $2 || '%' OR home_phone LIKE $2 || '%'
               OR lower(email) LIKE lower($2) || '%')
          AND ($3::text IS NULL OR (lower(first_name), id) > ($3, $4::uuid))
        ORDER BY lower(first_name), id
        LIMIT $5
        """
    /// The first contact, oldest first, whose `field` holds the number: one statement per field
    /// (a column cannot be a parameter), each backed by its own partial index.
    static let matchPhone: [ContactPhoneField: String] = Dictionary(
        uniqueKeysWithValues: ContactPhoneField.allCases.map { field in
            (field, """
                SELECT id FROM contacts WHERE account_id = $1 AND \(field.rawValue) = $2 ORDER BY created_at, id LIMIT 1
                """)
        })
    static let selectSettings = """
        SELECT array_to_string(reply_match_order, ',') AS reply_match_order FROM messaging_settings WHERE account_id = $1
        """
    static let upsertSettings = """
        INSERT INTO messaging_settings (tenant_id, account_id, reply_match_order) VALUES ($1, $2, $3::text::text[])
        ON CONFLICT (account_id) DO UPDATE SET reply_match_order = EXCLUDED.reply_match_order, updated_at = now()
        """

    static let listColumns = """
        l.id, l.tenant_id, l.account_id, l.name, l.created_at,
        (SELECT count(*) FROM contact_list_members m WHERE m.list_id = l.id) AS members
        """
    static let insertList = """
        INSERT INTO contact_lists (tenant_id, id, account_id, name) VALUES ($1, $2, $3, $4)
        RETURNING id, tenant_id, account_id, name, created_at, 0::bigint AS members
        """
    static let selectList = "SELECT \(listColumns) FROM contact_lists l WHERE l.id = $1"
    static let selectLists = """
        SELECT \(listColumns) FROM contact_lists l
        WHERE l.account_id = $1 AND ($2::text IS NULL OR (lower(l.name), l.id) > ($2, $3::uuid))
        ORDER BY lower(l.name), l.id LIMIT $4
        """
    /// Adds the contacts of the list's own account; ids of other accounts' contacts match nothing.
    static let addMembers = """
        INSERT INTO contact_list_members (tenant_id, list_id, contact_id)
        SELECT l.tenant_id, l.id, c.id
        FROM unnest($2::text::uuid[]) WITH ORDINALITY AS i (id, n)
        JOIN contacts c ON c.id = i.id
        JOIN contact_lists l ON l.id = $1 AND l.account_id = c.account_id
        ORDER BY i.n
        ON CONFLICT DO NOTHING
        """
    /// A semi-join, not `id = ANY (array)`: with a parameter array PostgreSQL may test each
    /// of the account's rows against every element (10,000 × 10,000 took 30 s).
    static let countOwnContacts = """
        SELECT count(*) AS n FROM contacts
        WHERE account_id = $1 AND id IN (SELECT unnest($2::text::uuid[]))
        """
    /// Unsubscribes every member's mobile; answers the numbers newly put on the list.
    static let optOutMembers = """
        INSERT INTO opt_outs (tenant_id, account_id, phone, source)
        SELECT DISTINCT c.tenant_id, c.account_id, c.mobile, 'admin'
        FROM contact_list_members m JOIN contacts c ON c.id = m.contact_id
        WHERE m.list_id = $1 AND c.mobile IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING phone
        """
    /// The members in the order they joined, with whether their mobile is opted out.
    static let selectRecipients = """
        SELECT c.id, c.tenant_id, c.account_id, c.first_name, c.last_name, c.mobile, c.work_phone, c.home_phone, c.email,
               c.sms_consent, c.created_at, (o.phone IS NOT NULL) AS opted_out
        FROM contact_list_members m
        JOIN contacts c ON c.id = m.contact_id
        LEFT JOIN opt_outs o ON o.account_id = c.account_id AND o.phone = c.mobile
        WHERE m.list_id = $1
        ORDER BY m.seq
        """

    // MARK: contacts

    package static func insert(_ connection: PostgresConnection, _ contact: ContactRecord) throws -> ContactRecord {
        try decodeContact(
            try connection.execute(
                insertContact,
                [contact.tenantID, contact.id, contact.accountID, contact.firstName, contact.lastName, contact.mobile,
                 contact.workPhone, contact.homePhone, contact.email, contact.smsConsent]
            ).single())
    }

    package static func update(_ connection: PostgresConnection, _ contact: ContactRecord) throws -> ContactRecord {
        try decodeContact(
            try connection.execute(
                updateContact,
                [contact.id, contact.firstName, contact.lastName, contact.mobile, contact.workPhone, contact.homePhone,
                 contact.email, contact.smsConsent]
            ).single())
    }

    package static func lockContact(_ connection: PostgresConnection, id: UUID) throws -> ContactRecord? {
        try connection.execute(lockContact, [id]).first.map(decodeContact)
    }

    package static func contacts(
        _ connection: PostgresConnection, accountID: UUID, search: String?, after: (String, UUID)?, limit: Int
    ) throws -> [ContactRecord] {
        try connection.execute(
            selectContacts, [accountID, search, after?.0, after?.1, Int64(limit)]
        ).rows.map(decodeContact)
    }

    /// The contact an inbound number belongs to: the fields in `order`, each oldest contact first.
    package static func match(
        _ connection: PostgresConnection, accountID: UUID, phone: String, order: [ContactPhoneField]
    ) throws -> UUID? {
        for field in order {
            if let id = try connection.execute(matchPhone[field]!, [accountID, phone]).first?.decode(UUID.self, "id") {
                return id
            }
        }
        return nil
    }

    package static func replyMatchOrder(_ connection: PostgresConnection, accountID: UUID) throws -> [ContactPhoneField] {
        guard let text = try connection.execute(selectSettings, [accountID]).first?.decode(String.self, "reply_match_order")
        else { return ContactPhoneField.defaultReplyMatchOrder }
        return text.split(separator: ",").compactMap { ContactPhoneField(rawValue: String($0)) }
    }

    package static func setReplyMatchOrder(
        _ connection: PostgresConnection, account: AccountRecord, order: [ContactPhoneField]
    ) throws {
        try connection.execute(upsertSettings, [account.tenantID, account.id, arrayLiteral(order.map(\.rawValue))])
    }

    // MARK: lists

    package static func createList(_ connection: PostgresConnection, account: AccountRecord, name: String) throws
        -> ContactListRecord
    {
        do {
            return try decodeList(try connection.execute(insertList, [account.tenantID, UUID(), account.id, name]).single())
        } catch let error as DatabaseError where error.code == .uniqueViolation {
            throw DomainError(.conflict, "a list named \(name) already exists", details: ["field": .string("name")])
        }
    }

    package static func list(_ connection: PostgresConnection, id: UUID) throws -> ContactListRecord? {
        try connection.execute(selectList, [id]).first.map(decodeList)
    }

    package static func lists(_ connection: PostgresConnection, accountID: UUID, after: (String, UUID)?, limit: Int) throws
        -> [ContactListRecord]
    {
        try connection.execute(selectLists, [accountID, after?.0, after?.1, Int64(limit)]).rows.map(decodeList)
    }

    /// Adds contacts to a list; every id must be a contact of the list's account.
    package static func addMembers(_ connection: PostgresConnection, list: ContactListRecord, contactIDs: [UUID]) throws {
        let ids = arrayLiteral(contactIDs)
        let own = try connection.execute(countOwnContacts, [list.accountID, ids]).single().decode(Int64.self, "n")
        guard own == Set(contactIDs).count else {
            // A referenced object that is not there (or not the caller's to see): not found.
            throw DomainError(
                .notFound, "contact not found: every id must be a contact of this account",
                details: ["field": .string("contact_ids")])
        }
        try connection.execute(addMembers, [list.id, ids])
    }

    package static func optOutMembers(_ connection: PostgresConnection, listID: UUID) throws -> [String] {
        try connection.execute(optOutMembers, [listID]).rows.map { try $0.decode(String.self, "phone") }
    }

    /// A list's members as a campaign sees them.
    package static func recipients(_ connection: PostgresConnection, listID: UUID) throws
        -> [(contact: ContactRecord, optedOut: Bool)]
    {
        try connection.execute(selectRecipients, [listID]).rows.map { (try decodeContact($0), try $0.decode(Bool.self, "opted_out")) }
    }

    // MARK: decoding

    static func decodeContact(_ row: PostgresRow) throws -> ContactRecord {
        ContactRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), firstName: try row.decode(String.self, "first_name"),
            lastName: try row.decode(String?.self, "last_name"), mobile: try row.decode(String?.self, "mobile"),
            workPhone: try row.decode(String?.self, "work_phone"), homePhone: try row.decode(String?.self, "home_phone"),
            email: try row.decode(String?.self, "email"), smsConsent: try row.decode(Bool.self, "sms_consent"),
            createdAt: try row.decode(Date.self, "created_at"))
    }

    static func decodeList(_ row: PostgresRow) throws -> ContactListRecord {
        ContactListRecord(
            id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
            accountID: try row.decode(UUID.self, "account_id"), name: try row.decode(String.self, "name"),
            members: Int(try row.decode(Int64.self, "members")), createdAt: try row.decode(Date.self, "created_at"))
    }
}
