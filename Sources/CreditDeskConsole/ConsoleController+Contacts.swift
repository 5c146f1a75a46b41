import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// A client's contacts and lists (one at a time, or a CSV file), and its opt-outs.
extension ConsoleController {
    func contacts(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard principal.accountKind == .client else { return try pages.notFound(session, request) }
        let query = request.uri.queryParameters
        let search = query["search"].map(String.init).flatMap { $0.isEmpty ? nil : String($0.prefix(Limits.maxNameLength)) }
        let after = query["after"].flatMap { CursorCoding.decode(String($0), count: 2) }.flatMap { parts in
            UUID(uuidString: parts[1]).map { (parts[0], $0) }
        }
        let (contacts, lists) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            (
                try ContactOperations.contacts(
                    connection, principal, accountID: principal.accountID, search: search, after: after, limit: Self.pageSize + 1),
                try ContactOperations.lists(connection, principal, accountID: principal.accountID, after: nil, limit: 200)
            )
        }
        let shown = contacts.prefix(Self.pageSize)
        var data: [String: Any] = [
            "search": search ?? "", "formKey": UUID().lower, "hasRows": !shown.isEmpty,
            "rows": shown.map { contact in
                [
                    "name": [contact.firstName, contact.lastName ?? ""].joined(separator: " ").trimmingCharacters(in: .whitespaces),
                    "mobile": contact.mobile ?? "", "email": contact.email ?? "", "consent": contact.smsConsent,
                ] as [String: Any]
            },
            "lists": lists.map { ["id": $0.id.lower, "name": $0.name, "members": formatted(Int64($0.members))] },
            "hasLists": !lists.isEmpty,
        ]
        if contacts.count > Self.pageSize, let last = shown.last {
            let cursor = CursorCoding.encode([last.firstName.lowercased(), last.id.lower])
            data["next"] = "/console/contacts?" + (search.map { "search=\(queryEscaped($0))&" } ?? "") + "after=\(cursor)"
        }
        return try pages.page("contacts", session, request, title: "nav_contacts", data)
    }

    static func addContact(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let input = ContactOperations.ContactInput(
            firstName: submission.field("first_name") ?? "", lastName: submission.given("last_name"),
            mobile: submission.given("mobile"), workPhone: nil, homePhone: nil, email: submission.given("email"),
            smsConsent: submission.field("consent") == "yes")
        let created = try ContactOperations.createContacts(
            connection, principal, accountID: principal.accountID, inputs: [input],
            listID: submission.given("list_id").flatMap(UUID.init(uuidString:)))
        return Done(flash: submission.text("flash_contact_added", ["name": created.first?.firstName ?? ""]))
    }

    /// A CSV file of contacts: the good rows imported, the bad ones listed with their reasons.
    static func importContacts(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let file = submission.files["file"], !file.isEmpty else {
            throw DomainError.invalid("file", "choose a CSV file to import")
        }
        guard let text = String(validating: file, as: UTF8.self) else {
            throw DomainError.invalid("file", "is not UTF-8 text; save it from the spreadsheet as CSV UTF-8")
        }
        var listID = submission.given("list_id").flatMap(UUID.init(uuidString:))
        if listID == nil, let name = submission.given("new_list") {
            listID = try ContactOperations.createList(connection, principal, accountID: principal.accountID, name: name).id
        }
        let result = try ContactOperations.importContacts(
            connection, principal, accountID: principal.accountID, rows: try ContactImport.rows(text), listID: listID)
        let flash = submission.text(
            "flash_imported", ["imported": formatted(Int64(result.imported.count)), "rejected": formatted(Int64(result.rejected.count))])
        let lines = result.rejected.map { submission.text("rejected_line", ["line": String($0.line), "reason": $0.reason]) }
        return Done(flash: flash, location: "/console/contacts", lines: lines)
    }

    static func createList(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let list = try ContactOperations.createList(
            connection, principal, accountID: principal.accountID, name: submission.field("name") ?? "")
        return Done(flash: submission.text("flash_list_created", ["name": list.name]))
    }

    // MARK: opt-outs

    func optOuts(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard principal.accountKind == .client else { return try pages.notFound(session, request) }
        let after = request.uri.queryParameters["after"].map(String.init)
        let rows = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            try MessagingOperations.optOuts($0, principal, accountID: principal.accountID, after: after, limit: Self.pageSize + 1)
        }
        let shown = rows.prefix(Self.pageSize)
        var data: [String: Any] = [
            "formKey": UUID().lower, "hasRows": !shown.isEmpty,
            "canManage": Authorization.roleAllows(principal.role, .manageMessaging, accountKind: principal.accountKind),
            "rows": shown.map { ["phone": $0.phone, "source": $0.source, "time": shortTime($0.createdAt)] },
        ]
        if rows.count > Self.pageSize, let last = shown.last { data["next"] = "/console/opt-outs?after=\(queryEscaped(last.phone))" }
        return try pages.page("opt-outs", session, request, title: "nav_opt_outs", data)
    }

    static func addOptOut(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let added = try MessagingOperations.addOptOuts(
            connection, principal, operation, accountID: principal.accountID, phones: [submission.field("phone") ?? ""])
        return Done(flash: submission.text("flash_opted_out", ["phone": added.joined(separator: ", ")]))
    }

    static func removeOptOut(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let phone = submission.field("phone") ?? ""
        try MessagingOperations.removeOptOut(connection, principal, operation, accountID: principal.accountID, phone: phone)
        return Done(flash: submission.text("flash_opted_in", ["phone": phone]))
    }
}
