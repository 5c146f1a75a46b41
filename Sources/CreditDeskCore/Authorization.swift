import Foundation

/// Who is acting: the user behind an API key, with its account's place in the tree.
package struct Principal: Sendable, Equatable {
    package let userID: UUID
    package let accountID: UUID
    package let tenantID: UUID
    package let role: Role
    package let accountKind: AccountKind

    package init(userID: UUID, accountID: UUID, tenantID: UUID, role: Role, accountKind: AccountKind) {
        self.userID = userID
        self.accountID = accountID
        self.tenantID = tenantID
        self.role = role
        self.accountKind = accountKind
    }
}

/// What a request wants to do to an account.
package enum Action: String, Sendable, CaseIterable {
    case read
    /// Create children; rename, suspend, reactivate an account below one's own.
    case manageAccounts
    case manageUsers
    /// Switch a child's features on or off.
    case manageFeatures
    case managePackages
    /// Manual add/remove, transfers, package sales, credit limits, refunds.
    case manageCredits
    /// Reserve, post, void, charge: what sending a message does.
    case consumeCredits
    /// Gateway connections of the office, opt-out lists.
    case manageMessaging
    /// The audit log of an account and its subtree: who changed what.
    case readAudit
}

package enum Authorization {
    /// Roles allowed each action, before the position in the tree is considered.
    package static func roleAllows(_ role: Role, _ action: Action, accountKind: AccountKind) -> Bool {
        switch action {
        case .read:
            return true
        case .manageAccounts, .manageFeatures, .managePackages, .manageCredits:
            return role == .operator || (role == .admin && accountKind == .reseller)
        case .manageUsers:
            return role == .operator || role == .admin
        case .consumeCredits:
            return role == .operator || role == .admin || role == .user
        case .manageMessaging:
            return role == .operator || role == .admin
        case .readAudit:
            // Staff who answer for the account; not its agents, whose colleagues' actions it shows.
            return role == .operator || role == .billing || role == .admin || role == .support
        }
    }

    /// Whether the action may target an account whose path (root first, ending with itself) is
    /// `targetPath`. Outside the principal's subtree the answer is always `notFound`, so another
    /// tenant cannot even learn that an id exists. Actions that change an account's standing
    /// (`manageAccounts`, `manageFeatures`, `manageCredits`) need a strict ancestor: nobody
    /// grants themselves credits or features.
    package static func check(_ principal: Principal, _ action: Action, targetPath: [UUID], what: String = "account")
        throws(DomainError)
    {
        guard targetPath.contains(principal.accountID) else { throw DomainError.notFound(what) }
        guard roleAllows(principal.role, action, accountKind: principal.accountKind) else {
            throw DomainError(.forbidden, "the \(principal.role.rawValue) role may not \(describe(action))")
        }
        switch action {
        case .manageAccounts, .manageFeatures, .manageCredits:
            if targetPath.last == principal.accountID {
                throw DomainError(.forbidden, "only an account above this one may \(describe(action)) it")
            }
        case .read, .manageUsers, .managePackages, .consumeCredits, .manageMessaging, .readAudit:
            break
        }
    }

    static func describe(_ action: Action) -> String {
        switch action {
        case .read: "read this"
        case .manageAccounts: "manage accounts"
        case .manageUsers: "manage users"
        case .manageFeatures: "change features"
        case .managePackages: "manage packages"
        case .manageCredits: "change credits"
        case .consumeCredits: "use credits"
        case .manageMessaging: "configure messaging"
        case .readAudit: "read the audit log"
        }
    }
}
