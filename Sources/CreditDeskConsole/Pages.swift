import CreditDeskCore
import CreditDeskStore
import Foundation
import Hummingbird
import Mustache

/// The templates and catalogues (compiled in from Templates/), and the headers every page carries.
struct Pages: Sendable {
    let library: MustacheLibrary
    let assets: [String: String]
    let catalogues: [String: Catalogue]

    init() throws {
        var library = MustacheLibrary()
        var assets = [String: String]()
        for (name, text) in BundledTemplates.files {
            if name.hasSuffix(".mustache") {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } else if !name.hasSuffix(".catalogue") {
                assets[name] = text
            }
        }
        self.library = library
        self.assets = assets
        self.catalogues = Catalogue.bundled
    }

    /// The catalogue for a request: the user's language setting, else the browser's.
    func catalogue(_ request: Request, setting: String? = nil) -> Catalogue {
        Catalogue.for(request, setting: setting)
    }

    /// No inline script or style, no framing, no referrer beyond this origin.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .init("Referrer-Policy")!: "same-origin",
        .init("X-Content-Type-Options")!: "nosniff",
        .cacheControl: "no-store",
    ]

    func render(
        _ template: String, _ catalogue: Catalogue, _ data: [String: Any], status: HTTPResponse.Status = .ok
    ) throws -> Response {
        var data = data
        data["t"] = catalogue.entries
        data["lang"] = catalogue.language
        if let title = data["title"] as? String { data["title"] = catalogue.text(title) }
        guard let html = library.render(data, withTemplate: template) else {
            throw HTTPError(.internalServerError, message: "template \(template) is missing")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page of a signed-in user: the layout's navigation and user block, the flash the
    /// request carries, and the page's own data. `title` is a catalogue key.
    func page(
        _ template: String, _ session: ConsoleSession, _ request: Request, title: String, _ data: [String: Any],
        status: HTTPResponse.Status = .ok, flash: Flash? = nil
    ) throws -> Response {
        var context = data
        context["title"] = title
        context["csrf"] = session.csrfToken
        let catalogue = catalogue(request, setting: session.language)
        context["user"] = Navigation(session: session, template: template).data(catalogue)
        let flash = flash ?? Flash(request)
        if let flash { context["flash"] = ["text": flash.text, "kind": flash.isError ? "error" : "ok"] }
        var response = try render(template, catalogue, context, status: status)
        if flash != nil { response.setCookie(Flash.clearing) }
        return response
    }

    func notFound(_ session: ConsoleSession, _ request: Request) throws -> Response {
        try page("not-found", session, request, title: "not_found", [:], status: .notFound)
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

/// The next page of a filtered list: `path` with the filters that are set, then `before`.
func nextPageLink(_ path: String, filters: [(String, String?)], before: Int64) -> String {
    let query = filters.compactMap { name, value in value.flatMap { $0.isEmpty ? nil : "\(name)=\(queryEscaped($0))&" } }
    return "\(path)?\(query.joined())before=\(before)"
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

/// A time as a table shows it: "2026-12-02 14:05 UTC".
func shortTime(_ date: Date) -> String {
    let text = ISO8601.format(date)
    return text.prefix(10) + " " + text.dropFirst(11).prefix(5) + " UTC"
}

/// A price in minor units as people read it: 1,250.00 EUR (two decimals; currencies without
/// minor units are rare among the seeds' customers).
func money(_ minor: Int64, _ currency: String) -> String {
    let cents = minor.magnitude % 100
    return "\(formatted(minor / 100)).\(cents < 10 ? "0" : "")\(cents) \(currency)"
}

/// The page for what the console's own handlers do not answer: a database that is down, a
/// body too large, a path that does not exist. Plain and self-contained (no session, no
/// template), under the same security headers.
package enum ConsoleErrorPage {
    package static func response(_ request: Request, status: HTTPResponse.Status, message: String) -> Response {
        let words = Catalogue.for(request)
        let heading = words.text(status.code >= 500 ? "error_page_unavailable" : "error_page_refused")
        let advice = status == .serviceUnavailable ? words.text("error_page_retry") : ""
        let escaped = message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        let html = """
            <!doctype html><html lang="\(words.language)"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(heading) · CreditDesk</title><link rel="stylesheet" href="/console/static/console.css"></head>
            <body><main><section class="card narrow"><h1>\(heading)</h1><p>\(escaped)</p><p>\(advice)</p>
            <p><a href="/console">\(words.text("back_to_dashboard"))</a></p></section></main></body></html>
            """
        var headers = Pages.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
