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
    /// `Secure` cookies when the public URL is https.
    let secureCookies: Bool

    package init(pool: DatabasePool, publicBaseURL: String) throws {
        self.pool = pool
        self.pages = try Pages()
        self.secureCookies = publicBaseURL.lowercased().hasPrefix("https://")
    }

    package func addRoutes(to router: Router<Context>) {
        router.get("/") { _, _ in Self.redirect(to: "/console") }
        router.get("/console/static/:file") { _, context in try pages.asset(context.parameters.require("file")) }
        router.get("/console/sign-in") { request, _ in try await signInPage(request) }
        router.post("/console/sign-in") { request, context in try await signIn(request, context) }
        router.post("/console/sign-out") { request, context in try await signOut(request, context) }
        router.get("/console") { request, _ in try await signedIn(request) { try await dashboard($0, $1) } }
        router.get("/console/clients") { request, _ in try await signedIn(request) { try await clients($0, $1) } }
        router.get("/console/usage") { request, _ in try await signedIn(request) { try await usage($0, $1) } }
        router.get("/console/usage/export") { request, _ in try await signedIn(request) { try await usageExport($0, $1) } }
        router.get("/console/clients/:id") { request, context in
            let id = context.parameters.get("id").flatMap(UUID.init(uuidString:))
            return try await signedIn(request) { try await client($0, $1, id: id) }
        }
        router.post("/console/clients/:id/credits") { request, context in
            try await action(request, context) { try Self.adjustCredits($0, $1, $2, $3) }
        }
        router.post("/console/clients/:id/features") { request, context in
            try await action(request, context) { try Self.setFeatures($0, $1, $2, $3) }
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
            return try pages.notFound(session)
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
    static let featureLabels: [Feature: String] = [
        .mms: "Enable MMS", .international: "International destinations", .campaigns: "Campaigns",
        .scheduling: "Scheduled messages", .inbound: "Receive messages",
    ]
}
