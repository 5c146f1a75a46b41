import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Contacts, contact lists, batch unsubscribe by list, the reply match order, and campaigns.
struct ContactsController {
    let access: Access

    /// One contact. Decoded strictly, nested in a batch too: a misspelt field is an error,
    /// not a contact silently missing its mobile.
    struct Contact: Decodable, Sendable {
        static let fields: Set<String> = [
            "first_name", "last_name", "mobile", "work_phone", "home_phone", "email", "sms_consent",
        ]
        let firstName: String?
        let lastName: String?
        let mobile: String?
        let workPhone: String?
        let homePhone: String?
        let email: String?
        let smsConsent: Bool?

        init(from decoder: any Decoder) throws {
            // The decoder converts member names from snake case: compare them converted back.
            let keys = try decoder.container(keyedBy: Body.TopLevelKeys.AnyKey.self).allKeys
            if let unknown = keys.sorted(by: { $0.stringValue < $1.stringValue })
                .first(where: { !Self.fields.contains(Body.snakeCase($0.stringValue)) })
            {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath + [unknown], debugDescription: "unknown field"))
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            firstName = try container.decodeIfPresent(String.self, forKey: .firstName)
            lastName = try container.decodeIfPresent(String.self, forKey: .lastName)
            mobile = try container.decodeIfPresent(String.self, forKey: .mobile)
            workPhone = try container.decodeIfPresent(String.self, forKey: .workPhone)
            homePhone = try container.decodeIfPresent(String.self, forKey: .homePhone)
            email = try container.decodeIfPresent(String.self, forKey: .email)
            smsConsent = try container.decodeIfPresent(Bool.self, forKey: .smsConsent)
        }

        enum CodingKeys: String, CodingKey {
            case firstName, lastName, mobile, workPhone, homePhone, email, smsConsent
        }

        var input: ContactOperations.ContactInput {
            .init(
                firstName: firstName, lastName: lastName, mobile: mobile, workPhone: workPhone, homePhone: homePhone,
                email: email, smsConsent: smsConsent)
        }
    }

    struct ContactBatch: Decodable {
        static let fields: Set<String> = ["contacts", "list_id"]
        let contacts: [Contact]
        let listId: UUID?
    }

    struct CreateList: Decodable {
        static let fields: Set<String> = ["name"]
        let name: String
    }

    struct Members: Decodable {
        static let fields: Set<String> = ["contact_ids"]
        let contactIds: [UUID]
    }

    struct Settings: Decodable {
        static let fields: Set<String> = ["reply_match_order"]
        let replyMatchOrder: [String]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        addContactRoutes(to: router)
        addListRoutes(to: router)
        router.put("/v1/accounts/:id/messaging-settings") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Settings.self, from: body, fields: Settings.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                SettingsDTO(
                    accountId: id.lower,
                    replyMatchOrder: try ContactOperations.setReplyMatchOrder(
                        connection, principal, accountID: id, order: input.replyMatchOrder))
            }
        }
        router.get("/v1/accounts/:id/messaging-settings") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                SettingsDTO(
                    accountId: id.lower,
                    replyMatchOrder: try ContactOperations.replyMatchOrder(connection, principal, accountID: id))
            }
        }
    }

    func addContactRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/contacts") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Contact.self, from: body, fields: Contact.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                ContactDTO(
                    try ContactOperations.createContacts(
                        connection, principal, accountID: id, inputs: [input.input], listID: nil)[0])
            }
        }
        router.post("/v1/accounts/:id/contacts/batch") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context, limit: Limits.maxBatchBodyBytes)
            let input = try Body.decode(ContactBatch.self, from: body, fields: ContactBatch.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                let created = try ContactOperations.createContacts(
                    connection, principal, accountID: id, inputs: input.contacts.map(\.input), listID: input.listId)
                return Page(items: created.map(ContactDTO.init), nextCursor: nil)
            }
        }
        router.get("/v1/accounts/:id/contacts") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let search = try Parameters.search(request)
            let after = try Cursor.decodeNameAndID(request)
            return try await access.read(context) { connection, principal in
                let rows = try ContactOperations.contacts(
                    connection, principal, accountID: id, search: search, after: after, limit: limit + 1)
                return Page(rows: rows, limit: limit, item: ContactDTO.init, cursor: { [$0.firstName.lowercased(), $0.id.lower] })
            }
        }
        router.patch("/v1/contacts/:id") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Contact.self, from: body, fields: Contact.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                ContactDTO(try ContactOperations.updateContact(connection, principal, contactID: id, input: input.input))
            }
        }
    }

    func addListRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/contact-lists") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateList.self, from: body, fields: CreateList.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                ContactListDTO(try ContactOperations.createList(connection, principal, accountID: id, name: input.name))
            }
        }
        router.get("/v1/accounts/:id/contact-lists") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let after = try Cursor.decodeNameAndID(request)
            return try await access.read(context) { connection, principal in
                let rows = try ContactOperations.lists(connection, principal, accountID: id, after: after, limit: limit + 1)
                return Page(rows: rows, limit: limit, item: ContactListDTO.init, cursor: { [$0.name.lowercased(), $0.id.lower] })
            }
        }
        router.post("/v1/contact-lists/:id/members") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context, limit: Limits.maxBatchBodyBytes)
            let input = try Body.decode(Members.self, from: body, fields: Members.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                ContactListDTO(try ContactOperations.addMembers(connection, principal, listID: id, contactIDs: input.contactIds))
            }
        }
    }
}

struct ContactDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let firstName: String
    let lastName: String?
    let mobile: String?
    let workPhone: String?
    let homePhone: String?
    let email: String?
    let smsConsent: Bool
    /// Campaigns skip this contact (the reason is on the campaign's recipients): no mobile or no consent.
    let smsReachable: Bool
    let createdAt: Date

    init(_ contact: ContactRecord) {
        id = contact.id.lower
        accountId = contact.accountID.lower
        firstName = contact.firstName
        lastName = contact.lastName
        mobile = contact.mobile
        workPhone = contact.workPhone
        homePhone = contact.homePhone
        email = contact.email
        smsConsent = contact.smsConsent
        smsReachable = contact.mobile != nil && contact.smsConsent
        createdAt = contact.createdAt
    }
}

struct ContactListDTO: Encodable, Sendable {
    let id: String
    let accountId: String
    let name: String
    let members: Int
    let createdAt: Date

    init(_ list: ContactListRecord) {
        id = list.id.lower
        accountId = list.accountID.lower
        name = list.name
        members = list.members
        createdAt = list.createdAt
    }
}

struct SettingsDTO: Encodable, Sendable {
    let accountId: String
    let replyMatchOrder: [ContactPhoneField]
}
