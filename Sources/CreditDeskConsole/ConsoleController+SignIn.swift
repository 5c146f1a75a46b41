import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Signing in and out.
extension ConsoleController {
    /// The sign-in form, with the notice a redirect left (a password just set or changed).
    func signInPage(_ request: Request) async throws -> Response {
        if try await session(request) != nil { return Self.redirect(to: "/console") }
        let notice = Flash(request)
        var response = try doubleSubmitForm(
            "sign-in", pages.catalogue(request), ["title": "sign_in", "email": "", "notice": notice?.text], status: .ok)
        if notice != nil { response.setCookie(Flash.clearing) }
        return response
    }

    func signInForm(_ request: Request, error: String?, email: String, status: HTTPResponse.Status) throws -> Response {
        var data: [String: Any] = ["title": "sign_in", "email": email]
        if let error { data["error"] = error }
        return try doubleSubmitForm("sign-in", pages.catalogue(request), data, status: status)
    }

    /// A form for someone not signed in, with a fresh double-submit CSRF token: the same random
    /// value in a cookie and in the form, which another site can neither read nor set.
    func doubleSubmitForm(
        _ template: String, _ catalogue: Catalogue, _ data: [String: Any?], status: HTTPResponse.Status
    ) throws -> Response {
        let token = SecureRandom.token()
        var data = data.compactMapValues { $0 }
        data["csrf"] = token
        var response = try pages.render(template, catalogue, data, status: status)
        response.setCookie(
            Cookie(name: Console.signInCookie, value: token, maxAge: 3_600, path: "/console", secure: secureCookies,
                   httpOnly: true, sameSite: .strict))
        return response
    }

    static func doubleSubmitMatches(_ form: [String: [String]], _ request: Request) -> Bool {
        guard let sent = form["csrf"]?.first, let expected = request.cookies[Console.signInCookie]?.value else { return false }
        return Digest.constantTimeEqual(Array(sent.utf8), Array(expected.utf8))
    }

    func signIn(_ request: Request, _ context: Context) async throws -> Response {
        let form = RequestParsing.form(context.body.readableBytesView)
        let email = form["email"]?.first ?? "", password = form["password"]?.first ?? ""
        let catalogue = pages.catalogue(request)
        guard Self.doubleSubmitMatches(form, request) else {
            return try signInForm(request, error: catalogue.text("form_expired"), email: email, status: .forbidden)
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
            let message = catalogue.text(error.code == .tooManyAttempts ? "too_many_sign_ins" : "sign_in_refused")
            return try signInForm(request, error: message, email: email, status: status)
        }
    }

    /// Ends this session, or, with `everywhere`, every session of the user.
    func signOut(_ request: Request, _ context: Context) async throws -> Response {
        guard let session = try await session(request), let token = request.cookies[Console.sessionCookie]?.value else {
            return Self.redirect(to: "/console/sign-in")
        }
        let form = RequestParsing.form(context.body.readableBytesView)
        guard Self.csrfMatches(form, session) else { return try csrfRefused(session, request) }
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

    func csrfRefused(_ session: ConsoleSession, _ request: Request) throws -> Response {
        let catalogue = pages.catalogue(request, setting: session.language)
        return try pages.page(
            "not-found", session, request, title: "refused", [:], status: .forbidden,
            flash: Flash(catalogue.text("csrf_refused"), isError: true))
    }
}
