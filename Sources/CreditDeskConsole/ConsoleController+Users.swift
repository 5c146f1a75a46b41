import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// An account's users and their API keys, on the Users page (one's own account) and on a
/// client's page: create a user, a key (its secret shown once), revoke a key, and a one-time
/// link for the user to set a password.
struct UsersSection {
    let account: AccountRecord
    let users: [(UserRecord, [APIKeyRecord])]
    let canManage: Bool

    static func load(_ connection: PostgresConnection, _ principal: Principal, account: AccountRecord) throws -> UsersSection {
        let canManage = Authorization.roleAllows(principal.role, .manageUsers, accountKind: principal.accountKind)
        guard canManage else { return UsersSection(account: account, users: [], canManage: false) }
        let users = try Operations.users(connection, principal, accountID: account.id).map { user in
            (user, try Operations.keys(connection, principal, userID: user.id))
        }
        return UsersSection(account: account, users: users, canManage: canManage)
    }

    var data: [String: Any] {
        [
            "accountID": account.id.lower, "canManage": canManage, "hasUsers": !users.isEmpty,
            "roles": account.kind.allowedRoles.map(\.rawValue).sorted().map { ["role": $0, "default": $0 == "user"] },
            "list": users.map { user, keys in
                [
                    "id": user.id.lower, "name": user.name, "email": user.email ?? "",
                    "role": user.role.rawValue, "status": user.status, "hasEmail": user.email != nil,
                    "keys": keys.map { key in
                        [
                            "id": key.id.lower, "label": key.label, "prefix": key.prefix,
                            "created": shortTime(key.createdAt), "revoked": key.revokedAt != nil,
                            "lastUsed": key.lastUsedAt.map(shortTime) ?? "—",
                        ] as [String: Any]
                    },
                ] as [String: Any]
            },
        ]
    }
}

extension ConsoleController {
    func users(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        let section = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let account = try Operations.account(connection, principal, principal.accountID, for: .read)
            return try UsersSection.load(connection, principal, account: account)
        }
        guard section.canManage else { return try pages.notFound(session, request) }
        return try pages.page(
            "users", session, request, title: "nav_users", ["users": section.data, "formKey": UUID().lower])
    }

    /// Where a users form goes back to: the Users page for one's own account, else the client's page.
    static func usersPage(_ accountID: UUID?, _ ownAccountID: UUID) -> String {
        guard let accountID, accountID != ownAccountID else { return "/console/users" }
        return "/console/clients/\(accountID.lower)"
    }

    static func createUser(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let role = submission.field("role").flatMap(Role.init(rawValue:)) else {
            throw DomainError.invalid("role", "choose a role")
        }
        let user = try Operations.createUser(
            connection, principal, operation, accountID: submission.id, name: submission.field("name") ?? "",
            email: submission.given("email"), role: role)
        return Done(flash: submission.text("flash_user_created", ["name": user.name]), location: usersPage(user.accountID, principal.accountID))
    }

    static func createKey(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let (key, secret) = try Operations.createKey(
            connection, principal, operation, userID: submission.id, label: submission.field("label") ?? "")
        let user = try UserStore.findUser(connection, id: key.userID)
        return Done(
            flash: submission.text("flash_key_created", ["label": key.label]), location: usersPage(user?.accountID, principal.accountID),
            secretLabel: "api_key", secret: secret)
    }

    static func revokeKey(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let key = try Operations.revokeKey(connection, principal, operation, keyID: submission.id)
        let user = try UserStore.findUser(connection, id: key.userID)
        return Done(flash: submission.text("flash_key_revoked", ["label": key.label]), location: usersPage(user?.accountID, principal.accountID))
    }

    /// A one-time link for the user to set a password, valid 24 hours, shown once.
    static func passwordLink(messaging: MessagingSettings) -> Work {
        { connection, principal, operation, submission in
            let token = try ConsoleOperations.createPasswordLink(connection, principal, operation, userID: submission.id)
            let user = try UserStore.findUser(connection, id: submission.id)
            return Done(
                flash: submission.text("flash_link_created", ["name": user?.name ?? ""]),
                location: usersPage(user?.accountID, principal.accountID), secretLabel: "password_link",
                secret: "\(messaging.publicBaseURL)/console/password/\(token)")
        }
    }
}
