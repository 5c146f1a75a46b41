import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// A browser's part, in-process: cookies kept between requests, forms posted as a browser would.
final class ConsoleBrowser: @unchecked Sendable {
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    /// The browser's `Accept-Language`, if any.
    var acceptLanguage: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    struct Page {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let html: String

        /// The value of the first `<input name="…" value="…">` with that name.
        func field(_ name: String) -> String? {
            guard let match = html.firstMatch(of: try! Regex("name=\"\(name)\" value=\"([^\"]*)\"")) else { return nil }
            return match.output[1].substring.map(String.init)
        }
        var location: String? { headers[.location] }
    }

    func get(_ path: String) async throws -> Page { try await send(.get, path, body: nil) }

    func post(_ path: String, _ fields: [(String, String)]) async throws -> Page {
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
            .joined(separator: "&")
        return try await send(.post, path, body: body)
    }

    /// A multipart form with one file, as a browser sends an upload.
    func upload(_ path: String, _ fields: [(String, String)], file: (name: String, fileName: String, content: String))
        async throws -> Page
    {
        let boundary = "----CreditDeskTest\(UUID().uuidString)"
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.fileName)\"\r\n"
        body += "Content-Type: text/csv\r\n\r\n\(file.content)\r\n--\(boundary)--\r\n"
        return try await send(.post, path, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
    }

    private func send(
        _ method: HTTPRequest.Method, _ path: String, body: String?,
        contentType: String = "application/x-www-form-urlencoded", language: String? = nil
    ) async throws -> Page {
        var headers = HTTPFields()
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if body != nil { headers[.contentType] = contentType }
        if let language = language ?? acceptLanguage { headers[.acceptLanguage] = language }
        let page = try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }
        ) { response in
            Page(status: response.status, headers: response.headers, html: String(buffer: response.body))
        }
        for header in page.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let (name, value) = (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
            if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return page
    }

    /// Signs in through the form, as a person would.
    func signIn(_ email: String, _ password: String) async throws -> Page {
        let form = try await get("/console/sign-in")
        return try await post("/console/sign-in", [("csrf", form.field("csrf") ?? ""), ("email", email), ("password", password)])
    }
}

@Suite("The web console")
struct ConsoleTests {
    static let password = "correct horse battery"

    /// A user of the reseller (or of `account`) with an email and the console password, set by the operator.
    func consoleUser(
        _ fixture: Fixture, _ pool: DatabasePool, email: String, name: String, role: Role, account: AccountRecord? = nil
    ) async throws -> String {
        let user = try await pool.withTransaction { connection in
            try UserStore.createUser(connection, account: account ?? fixture.reseller, name: name, email: email, role: role)
        }
        let root = try await pool.withConnection { try UserStore.authenticate($0, secret: fixture.keys[.platformOperator]!)! }
        try await ConsoleOperations.setPassword(
            pool: pool, root.principal, origin: .library, requestID: nil, userID: user.id, password: Self.password)
        return email
    }

    /// The reseller's admin, signing in with the console password.
    func resellerAdmin(_ fixture: Fixture, _ pool: DatabasePool) async throws -> String {
        try await consoleUser(fixture, pool, email: "admin@acme.example", name: "Rita Admin", role: .admin)
    }

    @Test("sign in, see the dashboard and the clients, add credits once however often the form is sent, sign out")
    func creditsFlow() async throws {
        try await withAPI { api, fixture, pool in
            let email = try await resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            #expect(try await browser.get("/").location == "/console")
            #expect(try await browser.get("/console").location == "/console/sign-in")
            let wrong = try await browser.signIn(email, "not the password")
            #expect(wrong.status == .unauthorized && wrong.html.contains("the email or the password is wrong"))
            let signedIn = try await browser.signIn(email.uppercased(), Self.password)
            #expect(signedIn.status == .seeOther && signedIn.location == "/console")
            let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("creditdesk_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/console"))

            let dashboard = try await browser.get("/console")
            #expect(dashboard.status == .ok && dashboard.html.contains("SMS used this month"))
            #expect(dashboard.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            let clients = try await browser.get("/console/clients?search=dent")
            #expect(clients.html.contains(">Dental</a>"), "\(clients.html)")
            _ = try await api.typed(fixture.keys[.platformOperator]).transferCredits(
                path: .init(id: fixture.platform.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 500, toAccountId: fixture.reseller.id.objectID))
            ).ok

            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            let page = try await browser.get(clientPath)
            let csrf = try #require(page.field("csrf")), key = try #require(page.field("form_key"))
            let add = [("csrf", csrf), ("form_key", key), ("unit", "sms"), ("amount", "25"), ("reason", "goodwill"),
                       ("direction", "add")]
            let first = try await browser.post("\(clientPath)/credits", add)
            #expect(first.status == .seeOther && first.location == clientPath)
            #expect(try await browser.get(clientPath).html.contains("Added 25 SMS credits"))
            // A double click or a resubmitted form: the same one-time key applies once.
            _ = try await browser.post("\(clientPath)/credits", add)
            #expect(try await browser.get(clientPath).html.contains("(already applied)"))
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.resellerAdmin]!).posted == 25)
            // Without the CSRF token: refused, nothing moves.
            let forged = try await browser.post("\(clientPath)/credits", add.filter { $0.0 != "csrf" } + [("form_key", UUID().uuidString)])
            #expect(forged.status == .forbidden)
            // A refusal is shown on the page, in words.
            let tooMuch = [("csrf", csrf), ("form_key", UUID().uuidString), ("unit", "sms"), ("amount", "1000"),
                           ("reason", "oops"), ("direction", "remove")]
            _ = try await browser.post("\(clientPath)/credits", tooMuch)
            #expect(try await browser.get(clientPath).html.contains("flash error"))
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.resellerAdmin]!).posted == 25)
            // Another tenant's client is not found, not forbidden.
            #expect(try await browser.get("/console/clients/\(fixture.otherClient.id.lower)").status == .notFound)

            let signOut = try await browser.post("/console/sign-out", [("csrf", csrf)])
            #expect(signOut.location == "/console/sign-in")
            #expect(try await browser.get("/console").location == "/console/sign-in")
            try await verifyClean(pool)
        }
    }

    @Test("Permissions: Enable MMS takes effect; a feature the parent lacks is shown as unavailable")
    func permissions() async throws {
        try await withAPI { api, fixture, pool in
            let email = try await resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            _ = try await browser.signIn(email, Self.password)
            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            #expect(try await browser.get(clientPath).html.contains("not available: the parent account does not have it"))
            _ = try await api.typed(fixture.keys[.platformOperator]).updateFeatures(
                path: .init(id: fixture.reseller.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(mms: true))
            ).ok
            let page = try await browser.get(clientPath)
            let saved = try await browser.post(
                "\(clientPath)/features",
                [("csrf", page.field("csrf")!), ("form_key", page.field("form_key")!), ("feature", "mms")])
            #expect(saved.status == .seeOther)
            #expect(try await browser.get(clientPath).html.contains("Permissions saved: Enable MMS"))
            let features = try await api.typed(fixture.keys[.resellerAdmin]).getFeatures(
                path: .init(id: fixture.client.id.objectID)
            ).ok.body.json
            #expect(features.effective.mms)
        }
    }

    @Test("PUT /v1/users/{id}/password: an admin above sets it, a colleague may not, and it is stored nowhere in clear")
    func passwordThroughTheAPI() async throws {
        try await withAPI { api, fixture, pool in
            let user = try await pool.withTransaction { connection in
                try UserStore.createUser(connection, account: fixture.client, name: "Desk", email: "Desk@Harbour.example", role: .user)
            }
            let secret = "a long enough secret"
            func set(_ password: String, as actor: Fixture.Actor) async throws -> Endpoints.SetPassword.Output {
                try await api.typed(fixture.keys[actor]).setPassword(
                    path: .init(id: user.id.objectID), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(password: password)))
            }
            #expect(try await set(secret, as: .clientUser).forbidden.body.json.error.code == "forbidden")
            #expect(try await set("short", as: .clientAdmin).badRequest.body.json.error.detail("field") == "password")
            #expect(contractError(try await set(secret, as: .otherResellerAdmin))?.code == "not_found")
            let done = try await set(secret, as: .clientAdmin).ok.body.json
            #expect(done.login == "desk@harbour.example" && done.userId.uuid == user.id)
            let browser = ConsoleBrowser(api.client)
            #expect(try await browser.signIn("desk@harbour.example", secret).location == "/console")
            let stored = try await pool.withConnection { connection in
                try connection.execute("SELECT string_agg(request_hash || response_body, '') AS everything FROM idempotency_keys")
                    .first?.decode(String?.self, "everything") ?? ""
            }
            #expect(!stored.contains(secret) && !stored.contains(Digest.sha256Hex(secret)))
        }
    }

    @Test("Usage: billing staff see the period's totals and a chart, and download the CSV, which parses")
    func usage() async throws {
        try await withAPI { api, fixture, pool in
            let billing = try await consoleUser(fixture, pool, email: "bea@acme.example", name: "Bea", role: .billing)
            try await LedgerTests().fund(api, fixture, sms: 1_000, clientSMS: 300)
            _ = try await api.typed(fixture.keys[.clientUser]).chargeCredits(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 12))
            ).created
            let browser = ConsoleBrowser(api.client)
            _ = try await browser.signIn(billing, Self.password)
            let page = try await browser.get("/console/usage?from=\(UsageTests.start)&to=\(UsageTests.today)&scope=descendants")
            #expect(page.status == .ok && page.html.contains("<svg class=\"chart\""))
            // The client's 300 granted and 12 received, in the SMS totals row.
            #expect(page.html.contains("<td>SMS</td><td class=\"num\">0</td><td class=\"num\">300</td>"), "\(page.html)")
            let csv = try await browser.get(
                "/console/usage/export?from=\(UsageTests.start)&to=\(UsageTests.today)&scope=descendants&format=csv")
            #expect(csv.status == .ok && csv.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            let records = CSV.parse(csv.html)
            #expect(records.first == UsageExport.dailyColumns)
            #expect(records.dropFirst().contains { $0[1] == "Dental" && $0[3] == "sms" })
            let bad = try await browser.get("/console/usage?from=2026-02-01&to=2026-01-01")
            #expect(bad.status == .ok && bad.html.contains("flash error"))
        }
    }

    @Test("repeated failed sign-ins are throttled with a clear message, even with the right password")
    func throttling() async throws {
        try await withAPI { api, fixture, pool in
            let email = try await resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            for _ in 0..<Limits.maxSignInFailuresPerLogin {
                #expect(try await browser.signIn(email, "wrong password!").status == .unauthorized)
            }
            let throttled = try await browser.signIn(email, Self.password)
            #expect(throttled.status == .tooManyRequests && throttled.html.contains("too many failed sign-ins"))
            #expect(browser.cookies["creditdesk_session"] == nil)
            // A sign-in without the form's token is refused before any password is tried.
            let forged = try await browser.post("/console/sign-in", [("email", email), ("password", Self.password)])
            #expect(forged.status == .forbidden)
        }
    }
}
