import CreditDeskCore
import CreditDeskStore

/// The menu a user sees: what a role cannot do, it is not offered. Resellers and the operator
/// manage clients, packages and rates; client accounts send. Everybody reads usage and the
/// ledger, and has settings.
struct Navigation {
    let session: ConsoleSession
    let template: String

    struct Item {
        let label: String
        let href: String
        let templates: Set<String>
    }

    var items: [Item] {
        let principal = session.principal
        let role = principal.role, kind = principal.accountKind
        var items = [Item(label: "nav_dashboard", href: "/console", templates: ["dashboard"])]
        if kind == .client {
            if Authorization.roleAllows(role, .consumeCredits, accountKind: kind) {
                items.append(Item(label: "nav_compose", href: "/console/compose", templates: ["compose"]))
            }
            items += [
                Item(label: "nav_messages", href: "/console/messages", templates: ["messages"]),
                Item(label: "nav_contacts", href: "/console/contacts", templates: ["contacts"]),
                Item(label: "nav_campaigns", href: "/console/campaigns", templates: ["campaigns", "campaign"]),
                Item(label: "nav_opt_outs", href: "/console/opt-outs", templates: ["opt-outs"]),
            ]
        } else {
            items.append(Item(label: "nav_clients", href: "/console/clients", templates: ["clients", "client"]))
            if Self.sellsPackages(principal) {
                items.append(Item(label: "nav_packages", href: "/console/packages", templates: ["packages", "package"]))
                items.append(Item(label: "nav_rates", href: "/console/rates", templates: ["rates"]))
            }
        }
        items.append(Item(label: "nav_usage", href: "/console/usage", templates: ["usage"]))
        items.append(Item(label: "nav_ledger", href: "/console/ledger", templates: ["ledger"]))
        if Authorization.roleAllows(role, .readAudit, accountKind: kind) {
            items.append(Item(label: "nav_audit", href: "/console/audit", templates: ["audit"]))
        }
        if Authorization.roleAllows(role, .manageUsers, accountKind: kind) {
            items.append(Item(label: "nav_users", href: "/console/users", templates: ["users"]))
        }
        items.append(Item(label: "nav_settings", href: "/console/settings", templates: ["settings"]))
        return items
    }

    /// Packages and rates are a reseller's, kept by its admins: their pages, and the menu's
    /// links to them, are for those only.
    static func sellsPackages(_ principal: Principal) -> Bool {
        principal.accountKind == .reseller
            && Authorization.roleAllows(principal.role, .managePackages, accountKind: principal.accountKind)
    }

    /// What the layout's header renders.
    func data(_ catalogue: Catalogue) -> [String: Any] {
        [
            "name": session.userName, "role": session.principal.role.rawValue, "csrf": session.csrfToken,
            "menu": items.map { item in
                ["label": catalogue.text(item.label), "href": item.href, "current": item.templates.contains(template)] as [String: Any]
            },
        ]
    }
}
