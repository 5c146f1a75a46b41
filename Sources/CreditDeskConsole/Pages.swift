import CreditDeskCore
import CreditDeskStore
import Foundation
import Hummingbird
import Mustache

/// The templates (compiled in from Templates/), and the headers every page carries.
struct Pages: Sendable {
    let library: MustacheLibrary
    let assets: [String: String]

    init() throws {
        var library = MustacheLibrary()
        var assets = [String: String]()
        for (name, text) in BundledTemplates.files {
            if name.hasSuffix(".mustache") {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } else {
                assets[name] = text
            }
        }
        self.library = library
        self.assets = assets
    }

    /// No inline script or style, no framing, no referrer beyond this origin.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .init("Referrer-Policy")!: "same-origin",
        .init("X-Content-Type-Options")!: "nosniff",
        .cacheControl: "no-store",
    ]

    func render(_ template: String, _ data: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = library.render(data, withTemplate: template) else {
            throw HTTPError(.internalServerError, message: "template \(template) is missing")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page of a signed-in user: the layout's user block, the flash, and the page's own data.
    func page(
        _ template: String, _ session: ConsoleSession, title: String, flash: Flash?, _ data: [String: Any],
        status: HTTPResponse.Status = .ok
    ) throws -> Response {
        var context = data
        context["title"] = title
        context["lang"] = "en"
        context["csrf"] = session.csrfToken
        context["user"] = [
            "name": session.userName, "role": session.principal.role.rawValue, "csrf": session.csrfToken,
            "canSeeClients": session.principal.accountKind != .client,
            "onDashboard": template == "dashboard", "onClients": template == "clients" || template == "client", "onUsage": template == "usage",
        ] as [String: Any]
        if let flash { context["flash"] = ["text": flash.text, "kind": flash.isError ? "error" : "ok"] }
        var response = try render(template, context, status: status)
        if flash != nil { response.setCookie(Flash.clearing) }
        return response
    }

    func notFound(_ session: ConsoleSession) throws -> Response {
        try page("not-found", session, title: "Not found", flash: nil, [:], status: .notFound)
    }

    func asset(_ name: String) throws -> Response {
        guard let text = assets[name] else { throw HTTPError(.notFound) }
        var headers = Self.securityHeaders
        headers[.contentType] = name.hasSuffix(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8"
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The message shown once on the page a form's redirect leads to, carried in a cookie.
struct Flash: Sendable {
    let text: String
    let isError: Bool

    static let clearing = Cookie(name: Console.flashCookie, value: "", maxAge: 0, path: "/console", sameSite: .lax)

    var cookie: Cookie {
        let value = (isError ? "e" : "o") + Base64URL.encode(Array(text.utf8))
        return Cookie(name: Console.flashCookie, value: value, maxAge: 60, path: "/console", sameSite: .lax)
    }

    init(_ text: String, isError: Bool = false) {
        self.text = text
        self.isError = isError
    }

    init?(_ request: Request) {
        guard let value = request.cookies[Console.flashCookie]?.value, let kind = value.first,
            let bytes = Base64URL.decode(String(value.dropFirst()))
        else { return nil }
        self.init(String(decoding: bytes, as: UTF8.self), isError: kind == "e")
    }
}

/// A value for a link's query string.
func queryEscaped(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
}

/// Numbers as people read them: 12,345.
func formatted(_ number: Int64) -> String {
    let digits = String(number.magnitude)
    var grouped = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { grouped.append(",") }
        grouped.append(character)
    }
    return number < 0 ? "−" + grouped : grouped
}
