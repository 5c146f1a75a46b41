import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Importing a contacts file: each row is judged on its own; the good ones are created (and
/// added to the list, if one is named), the bad ones are answered with their line and reason.
/// Nothing is created when the file itself is unreadable.
extension ContactOperations {
    package struct ImportResult: Sendable {
        package let imported: [ContactRecord]
        package let rejected: [(line: Int, reason: String)]
    }

    package static func importContacts(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, rows: [ContactImport.Row], listID: UUID?
    ) throws -> ImportResult {
        let account = try clientAccount(connection, principal, accountID, for: .consumeCredits)
        let list = try listID.map { try loadList(connection, principal, $0, for: .consumeCredits) }
        if let list, list.accountID != account.id { throw DomainError.invalid("list_id", "is a list of another account") }
        var imported: [ContactRecord] = [], rejected: [(line: Int, reason: String)] = []
        var seen: [String: Int] = [:]
        for row in rows {
            do {
                let contact = try candidate(row, account: account)
                if let mobile = contact.mobile, let first = seen[mobile] {
                    throw DomainError.invalid("mobile", "\(mobile) is already on line \(first)")
                }
                if let mobile = contact.mobile { seen[mobile] = row.line }
                imported.append(try ContactStore.insert(connection, contact))
            } catch let error as DomainError {
                rejected.append((row.line, error.message))
            }
        }
        if let list, !imported.isEmpty { try ContactStore.addMembers(connection, list: list, contactIDs: imported.map(\.id)) }
        return ImportResult(imported: imported, rejected: rejected)
    }

    /// The contact a row describes, or why it cannot be one.
    static func candidate(_ row: ContactImport.Row, account: AccountRecord) throws -> ContactRecord {
        guard let firstName = row.firstName else { throw DomainError.invalid("name", "no name") }
        guard row.mobile != nil else { throw DomainError.invalid("mobile", "no mobile number") }
        guard let consent = row.consent else {
            throw DomainError.invalid("consent", "consent \"\(row.consentText)\" is neither yes nor no")
        }
        var contact = ContactRecord(
            id: UUID(), tenantID: account.tenantID, accountID: account.id, firstName: "", lastName: nil, mobile: nil,
            workPhone: nil, homePhone: nil, email: nil, smsConsent: false, createdAt: Date())
        let input = ContactInput(
            firstName: firstName, lastName: row.lastName, mobile: row.mobile, workPhone: nil, homePhone: nil,
            email: row.email, smsConsent: consent)
        try input.apply(to: &contact, prefix: "")
        return contact
    }
}
