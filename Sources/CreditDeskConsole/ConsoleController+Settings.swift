import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// A user's own settings (language, password, sessions), the one-time password links, and
/// the ledger's entries.
extension ConsoleController {
    func settings(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let languages = Catalogue.languages.map { code in
            ["code": code, "name": Catalogue.names[code] ?? code, "selected": code == session.language] as [String: Any]
        }
        return try pages.page(
            "settings", session, request, title: "nav_settings",
            ["languages": languages, "formKey": UUID().lower])
    }

    static func setLanguage(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let language = submission.given("language")
        try ConsoleOperations.setLanguage(connection, principal, operation, language: language, supported: Catalogue.languages)
        // Said in the language just chosen.
        let words = language.flatMap { submission.catalogues[$0] } ?? submission.catalogue
        return Done(flash: words.text("flash_language_saved"))
    }

    /// A new password for oneself. bcrypt runs outside any transaction; setting a password
    /// ends the user's sessions, so the user signs in again with it.
    func changePassword(_ request: Request, _ context: Context) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect(to: "/console/sign-in") }
        let form = RequestParsing.form(context.body.readableBytesView)
        guard Self.csrfMatches(form, session) else { return try csrfRefused(session, request) }
        let catalogue = pages.catalogue(request, setting: session.language)
        var response = Self.redirect(to: "/console/settings")
        do {
            let password = form["password"]?.first ?? ""
            guard password == form["repeat"]?.first else { throw DomainError.invalid("repeat", catalogue.text("passwords_differ")) }
            try await ConsoleOperations.setPassword(
                pool: pool, session.principal, origin: Self.origin(session, context), requestID: context.requestID,
                userID: session.principal.userID, password: password)
            response = Self.redirect(to: "/console/sign-in")
            response.setCookie(Flash(catalogue.text("flash_password_changed")).cookie)
        } catch let error as DomainError {
            response.setCookie(Flash(catalogue.error(error), isError: true).cookie)
        }
        return response
    }

    // MARK: one-time password links

    func passwordLinkPage(_ request: Request, _ context: Context) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let valid = try await pool.withTransaction { try ConsoleStore.passwordLinkUser($0, token: token, claim: false) } != nil
        let catalogue = pages.catalogue(request)
        return try doubleSubmitForm(
            "password-link", catalogue,
            ["title": "set_password", "token": token, "valid": valid, "error": valid ? nil : catalogue.text("link_expired")],
            status: valid ? .ok : .notFound)
    }

    func redeemPasswordLink(_ request: Request, _ context: Context) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let form = RequestParsing.form(context.body.readableBytesView)
        let catalogue = pages.catalogue(request)
        func again(_ message: String, _ status: HTTPResponse.Status) throws -> Response {
            try doubleSubmitForm(
                "password-link", catalogue, ["title": "set_password", "token": token, "valid": true, "error": message],
                status: status)
        }
        guard Self.doubleSubmitMatches(form, request) else { return try again(catalogue.text("form_expired"), .forbidden) }
        let password = form["password"]?.first ?? ""
        guard password == form["repeat"]?.first else { return try again(catalogue.text("passwords_differ"), .unprocessableContent) }
        do {
            _ = try await ConsoleOperations.redeemPasswordLink(
                pool: pool, token: token, password: password, origin: Self.origin(nil, context),
                requestID: context.requestID)
        } catch let error as DomainError where error.code == .invalidRequest {
            return try again(catalogue.error(error), .unprocessableContent)
        } catch let error as DomainError where error.code == .notFound {
            return try doubleSubmitForm(
                "password-link", catalogue, ["title": "set_password", "valid": false, "error": catalogue.text("link_expired")],
                status: .notFound)
        }
        var response = Self.redirect(to: "/console/sign-in")
        response.setCookie(Flash(catalogue.text("flash_password_set")).cookie)
        return response
    }

    // MARK: the ledger

    func ledger(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        let query = request.uri.queryParameters
        let unit = query["unit"].flatMap { CreditUnit(rawValue: String($0)) }
        let kind = query["kind"].flatMap { EntryKind(rawValue: String($0)) }
        let from = query["from"].map(String.init) ?? "", to = query["to"].map(String.init) ?? ""
        let before = query["before"].flatMap { Int64(String($0)) }
        var data: [String: Any] = [
            "from": from, "to": to,
            "units": CreditUnit.allCases.map { ["value": $0.rawValue, "label": $0.rawValue.uppercased(), "selected": $0 == unit] },
            "kinds": EntryKind.allCases.map { ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == kind] },
        ]
        do {
            let fromDate = try Self.day(from, field: "from"), toDate = try Self.day(to, field: "to")
            let entries = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
                try Operations.entries(
                    $0, principal, accountID: principal.accountID, unit: unit, kind: kind, from: fromDate, to: toDate,
                    beforeID: before, limit: Self.pageSize + 1)
            }
            let shown = entries.prefix(Self.pageSize)
            data["hasRows"] = !shown.isEmpty
            data["rows"] = shown.map { entry in
                let incoming = entry.creditAccountID == principal.accountID
                return [
                    "id": entry.id, "time": shortTime(entry.createdAt), "kind": entry.kind.rawValue, "pending": entry.pending,
                    "signed": (incoming ? "+" : "−") + formatted(entry.amount), "direction": incoming ? "in" : "out",
                    "unit": entry.unit.rawValue.uppercased(), "reason": entry.reason ?? "",
                ] as [String: Any]
            }
            if entries.count > Self.pageSize, let last = shown.last {
                data["next"] = nextPageLink(
                    "/console/ledger", filters: [("unit", unit?.rawValue), ("kind", kind?.rawValue), ("from", from), ("to", to)],
                    before: last.id)
            }
        } catch let error as DomainError {
            data["error"] = pages.catalogue(request, setting: session.language).error(error)
        }
        return try pages.page("ledger", session, request, title: "nav_ledger", data)
    }

    /// A date field (YYYY-MM-DD, midnight UTC); empty is no bound.
    static func day(_ text: String, field: String) throws -> Date? {
        guard !text.isEmpty else { return nil }
        guard let date = ISO8601.parse(text + "T00:00:00Z") else { throw DomainError.invalid(field, "is not a date") }
        return date
    }
}
