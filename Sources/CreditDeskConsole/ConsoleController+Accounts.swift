import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// A client's page for its reseller: balances, Add/Remove Credits, a transfer from the pool, a
/// package sale, Permissions, suspend/reactivate, its gateway connections and its users.
extension ConsoleController {
    struct ClientPage {
        let account: AccountRecord
        let balances: [Balance]
        let parent: AccountRecord?
        let packages: [PackageRecord]
        let gateways: [GatewayConnectionRecord]
        let users: UsersSection
        let caps: (SpendingCaps?, [CapOperations.Usage])
        let balanceRules: BalanceRules
    }

    func client(_ session: ConsoleSession, _ request: Request, id: UUID?) async throws -> Response {
        guard let id, id != session.principal.accountID else { return try pages.notFound(session, request) }
        let principal = session.principal
        let page = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let (account, balances) = try Operations.balances(connection, principal, accountID: id)
            let parent = try account.parentID.flatMap { try AccountStore.find(connection, id: $0) }
            let packages =
                parent?.id == principal.accountID && parent?.kind == .reseller
                ? try Operations.packages(connection, principal, accountID: principal.accountID, active: true) : []
            let gateways = account.kind == .client ? try MessagingOperations.gateways(connection, principal, accountID: id) : []
            return ClientPage(
                account: account, balances: balances, parent: parent, packages: packages, gateways: gateways,
                users: try UsersSection.load(connection, principal, account: account),
                caps: account.kind == .client ? try CapOperations.caps(connection, principal, accountID: id) : (nil, []),
                balanceRules: try BalanceRules.load(connection, principal, account: account))
        }
        let account = page.account
        let canManage = Authorization.roleAllows(principal.role, .manageCredits, accountKind: principal.accountKind)
        let catalogue = pages.catalogue(request, setting: session.language)
        let features = Feature.allCases.map { feature -> [String: Any] in
            let parentHas = page.parent?.effectiveFeatures.contains(feature) ?? true
            let own = account.ownFeatures.contains(feature)
            return [
                "name": feature.rawValue, "label": catalogue.text("feature_\(feature.rawValue)"), "on": own, "unavailable": !parentHas,
                "onButInactive": own && parentHas && !account.effectiveFeatures.contains(feature),
            ]
        }
        let data: [String: Any] = [
            "id": account.id.lower, "name": account.name, "suspended": account.status == .suspended,
            "balances": Self.smsFirst(page.balances).map(Self.balanceData), "canManage": canManage,
            "features": features,
            "formKey": UUID().lower, "isClient": account.kind == .client,
            "canTransfer": canManage && page.parent?.id == principal.accountID,
            "packages": page.packages.map(Self.packageData), "hasPackages": !page.packages.isEmpty,
            "gateways": page.gateways.map(Self.gatewayData), "hasGateways": !page.gateways.isEmpty,
            "canManageMessaging": Authorization.roleAllows(principal.role, .manageMessaging, accountKind: principal.accountKind),
            "users": page.users.data,
        ].merging(Self.capsData(page.caps, catalogue)) { first, _ in first }
            .merging(page.balanceRules.data(catalogue)) { first, _ in first }
        return try pages.page("client", session, request, title: account.name, data)
    }

    /// The caps an account above set, each with what it used in its current window.
    static func capsData(_ caps: (SpendingCaps?, [CapOperations.Usage]), _ catalogue: Catalogue) -> [String: Any] {
        let (settings, usage) = caps
        return [
            "hasCaps": !usage.isEmpty || settings?.allowedCountries != nil,
            "caps": usage.map { cap in
                [
                    "label": catalogue.text("cap_\(cap.cap)"), "used": formatted(cap.used), "limit": formatted(cap.limit),
                    "resets": shortTime(cap.resetsAt),
                ]
            },
            "countries": settings?.allowedCountries.map { $0.map { "+\($0)" }.joined(separator: ", ") } ?? "",
        ]
    }

    static func gatewayData(_ gateway: GatewayConnectionRecord) -> [String: Any] {
        [
            "name": gateway.name, "provider": gateway.provider.rawValue, "baseURL": gateway.baseURL,
            "username": gateway.username, "sender": gateway.sender, "homePrefix": gateway.homePrefix,
            "scope": gateway.userID == nil ? "office" : "agent", "gateway": gateway.id.lower,
            "maxConcurrency": gateway.limits.maxConcurrency, "maxRate": gateway.limits.maxMessagesPerSecond.map(String.init) ?? "",
        ]
    }

    static func transfer(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let unit = try unit(submission)
        let outcome = try Operations.transfer(
            connection, principal, operation, fromID: principal.accountID, toID: submission.id, unit: unit,
            amount: try amount(submission), reason: submission.given("reason"))
        guard case .applied(let entry) = outcome else { return held(outcome, submission) }
        return Done(
            flash: submission.text(
                "flash_transferred", ["amount": formatted(entry.amount), "unit": unit.rawValue.uppercased()]))
    }

    static func sell(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let packageID = submission.given("package_id").flatMap(UUID.init(uuidString:)) else {
            throw DomainError.invalid("package_id", "choose a package")
        }
        let (sale, entries) = try Operations.sellPackage(
            connection, principal, operation, buyerID: submission.id, packageID: packageID)
        let credits = entries.map { "\(formatted($0.amount)) \($0.unit.rawValue.uppercased())" }.joined(separator: " + ")
        return Done(
            flash: submission.text(
                "flash_sold", ["credits": credits, "price": money(sale.priceMinor, sale.currency)]))
    }

    static func setStatus(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let status = submission.field("status").flatMap(AccountStatus.init(rawValue:)) else {
            throw DomainError.invalid("status", "is active or suspended")
        }
        let account = try Operations.updateAccount(connection, principal, operation, id: submission.id, name: nil, status: status)
        return Done(flash: submission.text(status == .suspended ? "flash_suspended" : "flash_reactivated", ["name": account.name]))
    }

    /// A connection's limits: submissions at once, and per second (blank: none).
    static func setGatewayLimits(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let gatewayID = submission.field("gateway_id").flatMap(UUID.init(uuidString:)) else {
            throw DomainError.invalid("gateway_id", "choose a connection")
        }
        let gateway = try MessagingOperations.setGatewayLimits(
            connection, principal, operation, gatewayID: gatewayID, limits: try gatewayLimits(submission))
        return Done(flash: submission.text("flash_gateway_limits", ["name": gateway.name]))
    }

    static func gatewayLimits(_ submission: Submission) throws -> GatewayLimits {
        let number = { (field: String) throws -> Int64? in
            guard let text = submission.given(field) else { return nil }
            guard let value = RequestParsing.int64(text) else { throw DomainError.invalid(field, "must be a whole number") }
            return value
        }
        return try GatewayLimits.validated(
            maxConcurrency: try number("max_concurrency"), maxMessagesPerSecond: try number("max_messages_per_second"))
    }

    /// A gateway connection for the client's office; the password is sealed and never shown
    /// again, the callback token is shown this once.
    static func createGateway(box: SecretBox?) -> Work {
        { connection, principal, operation, submission in
            guard let box else {
                throw DomainError(.conflict, "no CREDITDESK_SECRET_KEY is configured, so credentials cannot be stored")
            }
            guard let provider = submission.field("provider").flatMap(GatewayProvider.init(rawValue:)) else {
                throw DomainError.invalid("provider", "is kannel or twilio")
            }
            let (gateway, token) = try MessagingOperations.createGateway(
                connection, principal, operation, accountID: submission.id,
                input: .init(
                    provider: provider, name: submission.field("name") ?? "", baseURL: submission.field("base_url") ?? "",
                    username: submission.field("username") ?? "", password: submission.field("password") ?? "",
                    sender: submission.field("sender") ?? "", homePrefix: submission.field("home_prefix") ?? "", userID: nil,
                    limits: try gatewayLimits(submission)),
                box: box)
            return Done(
                flash: submission.text("flash_gateway_created", ["name": gateway.name]),
                secretLabel: "callback_token", secret: token)
        }
    }
}
