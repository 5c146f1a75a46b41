import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Contacts, contact lists and the reply match order.
extension APIHandlers {
    func listContacts(_ input: Endpoints.ListContacts.Input) async throws -> Endpoints.ListContacts.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let search = try Parameters.search(input.query.search)
        let after = try Cursor.decodeNameAndID(input.query.cursor)
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try ContactOperations.contacts(
                connection, principal, accountID: id, search: search, after: after, limit: limit + 1)
            return Components.Schemas.ContactPage(
                rows: rows, limit: limit, item: Components.Schemas.Contact.init,
                cursor: { [$0.firstName.lowercased(), $0.id.lower] })
        })))
    }

    func createContact(_ input: Endpoints.CreateContact.Input) async throws -> Endpoints.CreateContact.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (contact, replayed) = try await access.mutate(Components.Schemas.Contact.self, input: body, status: .created) {
            connection, principal, _ in
            Components.Schemas.Contact(
                try ContactOperations.createContacts(connection, principal, accountID: id, inputs: [body.input], listID: nil)[0])
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(contact)))
    }

    func createContacts(_ input: Endpoints.CreateContacts.Input) async throws -> Endpoints.CreateContacts.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        // Up to 10,000 contacts a request: the freed pages go back afterwards.
        defer { Memory.releaseFreedPages() }
        let listID = try Parameters.uuidField(body.listId, "list_id")
        let (contacts, replayed) = try await access.mutate(
            Components.Schemas.ContactPage.self, input: body, status: .created
        ) { connection, principal, _ in
            let created = try ContactOperations.createContacts(
                connection, principal, accountID: id, inputs: body.contacts.map(\.input), listID: listID)
            return Components.Schemas.ContactPage(all: created.map(Components.Schemas.Contact.init))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(contacts)))
    }

    func updateContact(_ input: Endpoints.UpdateContact.Input) async throws -> Endpoints.UpdateContact.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let (contact, replayed) = try await access.mutate(Components.Schemas.Contact.self, input: body) {
            connection, principal, _ in
            Components.Schemas.Contact(try ContactOperations.updateContact(connection, principal, contactID: id, input: body.input))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(contact)))
    }

    func listContactLists(_ input: Endpoints.ListContactLists.Input) async throws -> Endpoints.ListContactLists.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let after = try Cursor.decodeNameAndID(input.query.cursor)
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try ContactOperations.lists(connection, principal, accountID: id, after: after, limit: limit + 1)
            return Components.Schemas.ContactListPage(
                rows: rows, limit: limit, item: Components.Schemas.ContactList.init,
                cursor: { [$0.name.lowercased(), $0.id.lower] })
        })))
    }

    func createContactList(_ input: Endpoints.CreateContactList.Input) async throws -> Endpoints.CreateContactList.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (list, replayed) = try await access.mutate(Components.Schemas.ContactList.self, input: body, status: .created) {
            connection, principal, _ in
            Components.Schemas.ContactList(try ContactOperations.createList(connection, principal, accountID: id, name: body.name))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(list)))
    }

    func addListMembers(_ input: Endpoints.AddListMembers.Input) async throws -> Endpoints.AddListMembers.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (list, replayed) = try await access.mutate(Components.Schemas.ContactList.self, input: body) {
            connection, principal, _ in
            Components.Schemas.ContactList(
                try ContactOperations.addMembers(connection, principal, listID: id, contactIDs: body.contactIds.map(\.uuid)))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(list)))
    }

    func getMessagingSettings(_ input: Endpoints.GetMessagingSettings.Input) async throws
        -> Endpoints.GetMessagingSettings.Output
    {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.MessagingSettings(
                accountID: id,
                replyMatchOrder: try ContactOperations.replyMatchOrder(connection, principal, accountID: id))
        })))
    }

    func setMessagingSettings(_ input: Endpoints.SetMessagingSettings.Input) async throws
        -> Endpoints.SetMessagingSettings.Output
    {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (settings, replayed) = try await access.mutate(Components.Schemas.MessagingSettings.self, input: body) {
            connection, principal, operation in
            Components.Schemas.MessagingSettings(
                accountID: id,
                replyMatchOrder: try ContactOperations.setReplyMatchOrder(
                    connection, principal, operation, accountID: id, order: body.replyMatchOrder.map(\.rawValue)))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(settings)))
    }
}

extension Components.Schemas.NewContact {
    var input: ContactOperations.ContactInput {
        .init(
            firstName: firstName, lastName: lastName, mobile: mobile, workPhone: workPhone, homePhone: homePhone,
            email: email, smsConsent: smsConsent)
    }
}

extension Components.Schemas.ContactInput {
    var input: ContactOperations.ContactInput {
        .init(
            firstName: firstName, lastName: lastName, mobile: mobile, workPhone: workPhone, homePhone: homePhone,
            email: email, smsConsent: smsConsent)
    }
}
