import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Mustache

/// What the console needs of the request context: the body the middleware read, the request
/// id, and the caller's address (for sign-in throttling).
package protocol ConsoleRequestContext: RequestContext {
    var body: ByteBuffer { get }
    var requestID: String { get }
    var remoteAddress: String { get }
}

/// The web console at `/console`: server-rendered pages over the same services as the JSON API.
/// Every action is a form POST (CSRF-checked, idempotent by the form's one-time key) answered
/// by a redirect to a page with a flash message. See docs/ARCHITECTURE.md, "The console".
package struct ConsoleController<Context: ConsoleRequestContext>: Sendable {
    let pool: DatabasePool
    let pages: Pages
    /// Gateway secrets are sealed with its box; links are made with its public URL.
    let messaging: MessagingSettings
    /// `Secure` cookies when the public URL is https.
    let secureCookies: Bool

    package init(pool: DatabasePool, messaging: MessagingSettings) throws {
        self.pool = pool
        self.pages = try Pages()
        self.messaging = messaging
        self.secureCookies = messaging.publicBaseURL.lowercased().hasPrefix("https://")
    }

    package func addRoutes(to router: Router<Context>) {
        router.get("/") { _, _ in Self.redirect(to: "/console") }
        router.get("/console/static/:file") { _, context in try pages.asset(context.parameters.require("file")) }
        router.get("/console/sign-in") { request, _ in try await signInPage(request) }
        router.post("/console/sign-in") { request, context in try await signIn(request, context) }
        router.post("/console/sign-out") { request, context in try await signOut(request, context) }
        router.get("/console/password/:token") { request, context in try await passwordLinkPage(request, context) }
        router.post("/console/password/:token") { request, context in try await redeemPasswordLink(request, context) }
        router.post("/console/settings/password") { request, context in try await changePassword(request, context) }
        addPages(to: router)
        addActions(to: router)
    }

    func addPages(to router: Router<Context>) {
        let pages: [(String, @Sendable (Self) -> (ConsoleSession, Request) async throws -> Response)] = [
            ("/console", { $0.dashboard }), ("/console/clients", { $0.clients }), ("/console/usage", { $0.usage }),
            ("/console/usage/export", { $0.usageExport }), ("/console/compose", { $0.compose }),
            ("/console/messages", { $0.messages }), ("/console/contacts", { $0.contacts }),
            ("/console/campaigns", { $0.campaigns }), ("/console/opt-outs", { $0.optOuts }),
            ("/console/packages", { $0.packages }), ("/console/rates", { $0.rates }), ("/console/users", { $0.users }),
            ("/console/ledger", { $0.ledger }), ("/console/audit", { $0.audit }), ("/console/settings", { $0.settings }),
        ]
        for (path, page) in pages {
            router.get(RouterPath(path)) { request, _ in try await signedIn(request, page(self)) }
        }
        router.get("/console/clients/:id") { request, context in
            let id = context.parameters.get("id").flatMap(UUID.init(uuidString:))
            return try await signedIn(request) { try await client($0, $1, id: id) }
        }
        router.get("/console/campaigns/:id") { request, context in
            let id = context.parameters.get("id").flatMap(UUID.init(uuidString:))
            return try await signedIn(request) { try await campaign($0, $1, id: id) }
        }
    }

    func addActions(to router: Router<Context>) {
        let client: @Sendable (Submission) -> String = { "/console/clients/\($0.id.lower)" }
        let campaign: @Sendable (Submission) -> String = { "/console/campaigns/\($0.id.lower)" }
        let users: @Sendable (Submission) -> String = { _ in "/console/users" }
        let actions: [(String, @Sendable (Submission) -> String, Work)] = [
            ("/console/clients/:id/credits", client, Self.adjustCredits),
            ("/console/clients/:id/features", client, Self.setFeatures),
            ("/console/clients/:id/transfer", client, Self.transfer),
            ("/console/clients/:id/sell", client, Self.sell),
            ("/console/clients/:id/status", client, Self.setStatus),
            ("/console/clients/:id/gateways", client, Self.createGateway(box: messaging.secretBox)),
            ("/console/clients/:id/gateway-limits", client, Self.setGatewayLimits),
            ("/console/clients/:id/balance-alert", client, Self.setBalanceAlert),
            ("/console/clients/:id/auto-top-up", client, Self.setAutoTopUp),
            ("/console/accounts/:id/users", { Self.usersPage($0.id, $0.ownAccountID) }, Self.createUser),
            ("/console/users/:id/keys", users, Self.createKey),
            ("/console/keys/:id/revoke", users, Self.revokeKey),
            ("/console/users/:id/password-link", users, Self.passwordLink(messaging: messaging)),
            ("/console/messages/:id/cancel", { _ in "/console/messages" }, Self.cancelMessage),
            ("/console/contacts", { _ in "/console/contacts" }, Self.addContact),
            ("/console/contacts/import", { _ in "/console/contacts" }, Self.importContacts),
            ("/console/lists", { _ in "/console/contacts" }, Self.createList),
            ("/console/opt-outs", { _ in "/console/opt-outs" }, Self.addOptOut),
            ("/console/opt-outs/remove", { _ in "/console/opt-outs" }, Self.removeOptOut),
            ("/console/campaigns", { _ in "/console/campaigns" }, Self.createCampaign),
            ("/console/campaigns/:id/test", campaign, Self.testCampaign),
            ("/console/campaigns/:id/confirm", campaign, Self.confirmCampaign),
            ("/console/campaigns/:id/cancel", campaign, Self.cancelCampaign),
            ("/console/packages", { _ in "/console/packages" }, Self.createPackage),
            ("/console/packages/:id", { _ in "/console/packages" }, Self.updatePackage),
            ("/console/rates", { _ in "/console/rates" }, Self.setRate),
            ("/console/settings/language", { _ in "/console/settings" }, Self.setLanguage),
        ]
        for (path, back, work) in actions {
            router.post(RouterPath(path)) { request, context in try await action(request, context, back: back, work) }
        }
        router.post("/console/compose") { request, context in
            try await action(request, context, back: { _ in "/console/compose" }, refused: composeRefused, Self.send)
        }
    }

    /// A page for a signed-in user; without a live session, the sign-in page.
    func signedIn(
        _ request: Request, _ render: (ConsoleSession, Request) async throws -> Response
    ) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect(to: "/console/sign-in") }
        do {
            return try await render(session, request)
        } catch let error as DomainError where error.code == .notFound || error.code == .forbidden {
            return try pages.notFound(session, request)
        }
    }

    func session(_ request: Request) async throws -> ConsoleSession? {
        guard let token = request.cookies[Console.sessionCookie]?.value, !token.isEmpty else { return nil }
        return try await pool.withTransaction { try ConsoleStore.session($0, token: token) }
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

/// The console's names and labels (a generic type cannot hold stored statics).
enum Console {
    static let sessionCookie = "creditdesk_session"
    static let signInCookie = "creditdesk_sign_in"
    static let flashCookie = "creditdesk_flash"
}
