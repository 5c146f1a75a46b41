import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Signing in and out.
extension ConsoleController {
    func signInPage(_ request: Request) async throws -> Response {
        if try await session(request) != nil { return Self.redirect(to: "/console") }
        return try signInForm(error: nil, email: "", status: .ok)
    }

    /// The sign-in form, with a fresh double-submit CSRF token: the same random value in a
    /// cookie and in the form, which another site can neither read nor set.
    func signInForm(error: String?, email: String, status: HTTPResponse.Status) throws -> Response {
        let token = SecureRandom.token()
        var data: [String: Any] = ["title": "Sign in", "lang": "en", "email": email, "csrf": token]
        if let error { data["error"] = error }
        var response = try pages.render("sign-in", data, status: status)
        response.setCookie(
            Cookie(name: Console.signInCookie, value: token, maxAge: 3_600, path: "/console", secure: secureCookies,
                   httpOnly: true, sameSite: .strict))
        return response
    }

    func signIn(_ request: Request, _ context: Context) async throws -> Response {
        let form = RequestParsing.form(context.body.readableBytesView)
        let email = form["email"]?.first ?? "", password = form["password"]?.first ?? ""
        guard let sent = form["csrf"]?.first, let expected = request.cookies[Console.signInCookie]?.value,
            Digest.constantTimeEqual(Array(sent.utf8), Array(expected.utf8))
        else {
            return try signInForm(error: "The sign-in form expired; please try again.", email: email, status: .forbidden)
        }
        do {
            let (token, _) = try await ConsoleOperations.signIn(
                pool: pool, login: email, password: password, address: context.remoteAddress)
            var response = Self.redirect(to: "/console")
            response.setCookie(
                Cookie(
                    name: Console.sessionCookie, value: token, maxAge: Limits.sessionLifetimeSeconds, path: "/console",
                    secure: secureCookies, httpOnly: true, sameSite: .lax))
            return response
        } catch let error as DomainError where error.code == .unauthorized || error.code == .tooManyAttempts {
            let status: HTTPResponse.Status = error.code == .tooManyAttempts ? .tooManyRequests : .unauthorized
            return try signInForm(error: error.message, email: email, status: status)
        }
    }

    /// Ends this session, or, with `everywhere`, every session of the user.
    func signOut(_ request: Request, _ context: Context) async throws -> Response {
        guard let session = try await session(request), let token = request.cookies[Console.sessionCookie]?.value else {
            return Self.redirect(to: "/console/sign-in")
        }
        let form = RequestParsing.form(context.body.readableBytesView)
        guard Self.csrfMatches(form, session) else { return try csrfRefused(session) }
        try await pool.withTransaction { connection in
            if form["everywhere"]?.first == "1" {
                try ConsoleStore.endSessions(connection, userID: session.principal.userID)
            } else {
                try ConsoleStore.endSession(connection, token: token)
            }
        }
        var response = Self.redirect(to: "/console/sign-in")
        response.setCookie(Cookie(name: Console.sessionCookie, value: "", maxAge: 0, path: "/console", sameSite: .lax))
        return response
    }

    static func csrfMatches(_ form: [String: [String]], _ session: ConsoleSession) -> Bool {
        guard let sent = form["csrf"]?.first else { return false }
        return Digest.constantTimeEqual(Array(sent.utf8), Array(session.csrfToken.utf8))
    }

    func csrfRefused(_ session: ConsoleSession) throws -> Response {
        try pages.page(
            "not-found", session, title: "Refused",
            flash: Flash("This form has expired or did not come from this console. Reload the page and try again.", isError: true),
            [:], status: .forbidden)
    }
}
