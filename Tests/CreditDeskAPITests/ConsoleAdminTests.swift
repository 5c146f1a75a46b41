@testable import CreditDeskAPI
@testable import CreditDeskConsole
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

/// The reseller's pages of the console: packages and their sale, rates, transfers, suspension,
/// gateway connections, users and keys, one-time password links, the ledger; and the catalogues.
@Suite("The web console: reseller pages")
struct ConsoleAdminTests {
    let password = ConsoleTests.password

    /// The reseller's admin signed in; 1,000 SMS credits granted to the reseller, 100 of them
    /// passed on to the client (see `MessagingTests.withMessaging`).
    func withResellerAdmin(
        _ body: @escaping @Sendable (API, Fixture, DatabasePool, ConsoleBrowser, String) async throws -> Void
    ) async throws {
        try await MessagingTests().withMessaging { api, fixture, pool, _ in
            let email = try await ConsoleTests().resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            _ = try await browser.signIn(email, password)
            let csrf = try #require(try await browser.get("/console").field("csrf"))
            try await body(api, fixture, pool, browser, csrf)
        }
    }

    @Test("packages: created with a price, sold from the client's page (credits move once), withdrawn; rates by prefix")
    func packagesAndRates() async throws {
        try await withResellerAdmin { api, fixture, _, browser, csrf in
            let made = try await browser.post(
                "/console/packages",
                [("csrf", csrf), ("form_key", freshKey()), ("name", "Starter"), ("sms_credits", "250"), ("mms_credits", "0"),
                 ("price", "49,5"), ("currency", "eur")])
            #expect(made.location == "/console/packages")
            let packages = try await browser.get("/console/packages")
            #expect(packages.html.contains("Package Starter created") && packages.html.contains("49.50 EUR"))
            let bad = try await browser.post(
                "/console/packages", [("csrf", csrf), ("form_key", freshKey()), ("name", "Bad"), ("price", "ten"), ("currency", "EUR")])
            #expect(bad.status == .seeOther)
            #expect(try await browser.get("/console/packages").html.contains("price: must be an amount such as 12.50"))

            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            let client = try await browser.get(clientPath)
            let packageID = try #require(client.html.firstMatch(of: /<option value="([0-9a-f-]{36})">Starter · 250 SMS/)?.output.1)
            let sale = [("csrf", csrf), ("form_key", freshKey()), ("package_id", String(packageID))]
            _ = try await browser.post("\(clientPath)/sell", sale)
            _ = try await browser.post("\(clientPath)/sell", sale)
            #expect(try await browser.get(clientPath).html.contains("Sold: 250 SMS for 49.50 EUR (already applied)"))
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.resellerAdmin]!).available == 350)

            _ = try await browser.post(
                "/console/packages/\(packageID)", [("csrf", csrf), ("form_key", freshKey()), ("name", "Starter"), ("active", "no")])
            #expect(!(try await browser.get(clientPath).html.contains(">Starter · 250 SMS")))

            _ = try await browser.post(
                "/console/rates", [("csrf", csrf), ("form_key", freshKey()), ("prefix", "+44"), ("credits_per_segment", "3")])
            let rates = try await browser.get("/console/rates")
            #expect(rates.html.contains("<td>+44</td><td class=\"num\">3</td>"))
        }
    }

    @Test("a client's page: transfer from the pool, suspend and reactivate, a gateway whose password is never shown")
    func clientPage() async throws {
        try await withResellerAdmin { api, fixture, pool, browser, csrf in
            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            _ = try await browser.post(
                "\(clientPath)/transfer", [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("amount", "40"), ("reason", "")])
            #expect(try await browser.get(clientPath).html.contains("Transferred 40 SMS credits"))
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.resellerAdmin]!).available == 140)

            let gateway = [
                ("csrf", csrf), ("form_key", freshKey()), ("provider", "kannel"), ("name", "Office Kannel"),
                ("base_url", "http://127.0.0.1:13013"), ("username", "office"), ("password", "kannel secret 42"),
                ("sender", "+6421000000"), ("home_prefix", "64"),
            ]
            let created = try await browser.post("\(clientPath)/gateways", gateway)
            #expect(created.status == .ok && created.html.contains("Connection Office Kannel added"))
            #expect(created.html.firstMatch(of: /<code class="secret">[A-Za-z0-9_-]{20,}</) != nil)
            let listed = try await browser.get(clientPath)
            #expect(listed.html.contains("<td>Office Kannel") && !listed.html.contains("kannel secret 42"))
            let stored = try await pool.withConnection { connection in
                try connection.execute("SELECT string_agg(request_hash || response_body, '') AS everything FROM idempotency_keys")
                    .first?.decode(String?.self, "everything") ?? ""
            }
            #expect(!stored.contains("kannel secret 42"))

            _ = try await browser.post("\(clientPath)/status", [("csrf", csrf), ("form_key", freshKey()), ("status", "suspended")])
            let suspended = try await browser.get(clientPath)
            #expect(suspended.html.contains("Dental is suspended") && suspended.html.contains("value=\"active\""))
            _ = try await browser.post("\(clientPath)/status", [("csrf", csrf), ("form_key", freshKey()), ("status", "active")])
            #expect(try await browser.get(clientPath).html.contains("Dental is active again"))
        }
    }

    @Test("a client's page: a low-balance alert and an automatic top-up set, shown, used and removed")
    func balanceRules() async throws {
        try await withResellerAdmin { api, fixture, pool, browser, csrf in
            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            #expect(try await browser.get(clientPath).html.contains("No low-balance alert or automatic top-up."))
            _ = try await browser.post(
                "\(clientPath)/balance-alert",
                [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("below", "500"), ("measure", "credits"), ("notify_parent", "yes")])
            _ = try await browser.post(
                "\(clientPath)/auto-top-up",
                [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("below", "50"), ("amount", "200"), ("max_per_day", "1000"),
                 ("max_per_month", "")])
            let page = try await browser.get(clientPath).html
            #expect(page.contains("SMS: alert below 500 credits · also tell the reseller"), "\(page)")
            #expect(page.contains("SMS: top up 200 when below 50 (at most 1,000 a day)"), "\(page)")
            // The client has 100: the next change of its balance alerts (it is below 500 already).
            let reserved = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: fixture.keys[.clientUser], body: ["unit": "sms", "amount": 60])
            #expect(reserved.status == .created)
            #expect(try await browser.get(clientPath).html.contains("alerted; waits for the balance to recover"))
            _ = try await browser.post(
                "\(clientPath)/auto-top-up", [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("below", "50"), ("amount", "0")])
            #expect(try await browser.get(clientPath).html.contains("amount: must be a whole number above zero"))
            _ = try await browser.post("\(clientPath)/balance-alert", [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("below", "")])
            _ = try await browser.post("\(clientPath)/auto-top-up", [("csrf", csrf), ("form_key", freshKey()), ("unit", "sms"), ("below", "")])
            let cleared = try await browser.get(clientPath).html
            #expect(cleared.contains("No low-balance alert or automatic top-up.") && cleared.contains("SMS automatic top-up removed"))
            let rules = try await pool.withConnection {
                try $0.execute("SELECT (SELECT count(*) FROM balance_alerts) + (SELECT count(*) FROM auto_top_ups) AS n").single()
                    .decode(Int64.self, "n")
            }
            #expect(rules == 0)
        }
    }

    @Test("users and keys: a user added to a client, a key's secret shown once (not on a replay, not stored), revoked")
    func usersAndKeys() async throws {
        try await withResellerAdmin { _, fixture, pool, browser, csrf in
            _ = try await browser.post(
                "/console/accounts/\(fixture.client.id.lower)/users",
                [("csrf", csrf), ("form_key", freshKey()), ("name", "Nia Nurse"), ("email", "nia@dental.example"), ("role", "user")])
            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            let page = try await browser.get(clientPath)
            #expect(page.html.contains("User Nia Nurse added"))
            let userID = try #require(page.html.firstMatch(of: /<tr data-user="([0-9a-f-]{36})"><td>Nia Nurse/)?.output.1)
            let keyForm = [("csrf", csrf), ("form_key", freshKey()), ("label", "CRM")]
            let shown = try await browser.post("/console/users/\(userID)/keys", keyForm)
            let secret = try #require(shown.html.firstMatch(of: /<code class="secret">([^<]+)</)?.output.1)
            #expect(shown.status == .ok && shown.html.contains("shown this once"))
            let replay = try await browser.post("/console/users/\(userID)/keys", keyForm)
            let after = try await browser.get(clientPath)
            #expect(replay.status == .seeOther && after.html.contains("(already applied)") && !after.html.contains(String(secret)))
            let stored = try await pool.withConnection { connection in
                try connection.execute("SELECT string_agg(response_body, '') AS everything FROM idempotency_keys")
                    .first?.decode(String?.self, "everything") ?? ""
            }
            #expect(!stored.contains(String(secret)))
            let keyID = try #require(
                try await browser.get(clientPath).html.firstMatch(of: /CRM <code>[^<]*<\/code>\s*<form method="post" action="\/console\/keys\/([0-9a-f-]{36})\/revoke"/)?.output.1)
            let revoked = try await browser.post("/console/keys/\(keyID)/revoke", [("csrf", csrf), ("form_key", freshKey())])
            #expect(revoked.location == clientPath)
            let final = try await browser.get(clientPath)
            #expect(final.html.contains("Key CRM revoked"))
        }
    }

    @Test("a one-time password link: made by the admin, sets the password once, then refused; expired links too")
    func passwordLink() async throws {
        try await withResellerAdmin { api, fixture, pool, browser, csrf in
            let user = try await pool.withTransaction { connection in
                try UserStore.createUser(connection, account: fixture.client, name: "Omar", email: "omar@dental.example", role: .admin)
            }
            let made = try await browser.post("/console/users/\(user.id.lower)/password-link", [("csrf", csrf), ("form_key", freshKey())])
            let link = try #require(made.html.firstMatch(of: /<code class="secret">http:\/\/[^\/]+(\/console\/password\/[A-Za-z0-9_-]+)</)?.output.1)
            // The link's token is a secret: the request log names the route, not the token.
            #expect(RequestLoggingMiddleware.loggedPath(String(link)) == "/console/password/[token]")
            let visitor = ConsoleBrowser(api.client)
            let form = try await visitor.get(String(link))
            #expect(form.status == .ok && form.html.contains("Set your password"))
            let token = try #require(form.field("csrf"))
            let differ = try await visitor.post(String(link), [("csrf", token), ("password", "a good long one"), ("repeat", "another")])
            #expect(differ.status == .unprocessableContent)
            let retry = try #require(differ.field("csrf"))
            let set = try await visitor.post(String(link), [("csrf", retry), ("password", "a good long one"), ("repeat", "a good long one")])
            #expect(set.location == "/console/sign-in")
            #expect(try await visitor.get("/console/sign-in").html.contains("Password set; you can sign in now."))
            #expect(try await visitor.signIn("omar@dental.example", "a good long one").location == "/console")
            let reused = try await ConsoleBrowser(api.client).get(String(link))
            #expect(reused.status == .notFound && reused.html.contains("has expired or has been used"))
            // A link past its 24 hours is refused the same way.
            let stale = try await pool.withTransaction { connection in
                let token = try ConsoleStore.createPasswordLink(connection, userID: user.id, createdBy: user.id)
                try connection.execute("UPDATE password_links SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
                return token
            }
            #expect(try await ConsoleBrowser(api.client).get("/console/password/\(stale)").status == .notFound)
            await #expect(throws: DomainError.self) {
                try await ConsoleOperations.redeemPasswordLink(
                    pool: pool, token: stale, password: "a good long one", origin: .library, requestID: nil)
            }
        }
    }

    @Test("the ledger page lists the account's entries with filters; an unknown console path is an HTML page")
    func ledgerAndErrors() async throws {
        try await withResellerAdmin { _, _, _, browser, _ in
            let ledger = try await browser.get("/console/ledger")
            #expect(ledger.html.contains("+1,000 SMS") && ledger.html.contains(">grant"))
            #expect(try await browser.get("/console/ledger?kind=sale").html.contains("No entries match."))
            #expect(try await browser.get("/console/ledger?from=yesterday").html.contains("from: is not a date"))
            let missing = try await browser.get("/console/no-such-page")
            #expect(missing.status == .notFound && missing.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(missing.html.contains("<h1>This request was refused</h1>"))
            browser.acceptLanguage = "nl"
            #expect(try await browser.get("/console/no-such-page").html.contains("<h1>Dit verzoek is geweigerd</h1>"))
        }
    }

    @Test("packages and rates are offered to a reseller's admins only, in the menu as on their pages")
    func packagesAreResellers() {
        func principal(_ role: Role, _ kind: AccountKind) -> Principal {
            Principal(userID: UUID(), accountID: UUID(), tenantID: UUID(), role: role, accountKind: kind)
        }
        #expect(Navigation.sellsPackages(principal(.admin, .reseller)))
        #expect(!Navigation.sellsPackages(principal(.operator, .platform)), "the platform has no packages page")
        #expect(!Navigation.sellsPackages(principal(.billing, .reseller)))
        #expect(!Navigation.sellsPackages(principal(.admin, .client)))
    }

    @Test("catalogues: every word a template or the code asks for is in English; the client pages are whole in French and Dutch")
    func catalogues() throws {
        let pages = try Pages()
        let templates = BundledTemplates.files.filter { $0.0.hasSuffix(".mustache") }
        func keys(_ text: String) -> Set<String> { Set(text.matches(of: /\{\{t\.([a-z0-9_]+)\}\}/).map { String($0.output.1) }) }
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/CreditDeskConsole")
        var used = Set<String>()
        for (_, text) in templates { used.formUnion(keys(text)) }
        for file in try FileManager.default.contentsOfDirectory(atPath: sources.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            used.formUnion(text.matches(of: /text\("([a-z0-9_]+)"/).map { String($0.output.1) })
            used.formUnion(text.matches(of: /title: "([a-z0-9_]+)"/).map { String($0.output.1) })
        }
        let english = Catalogue.parse(try #require(BundledTemplates.files.first { $0.0 == "en.catalogue" }?.1))
        #expect(used.count > 150)
        #expect(used.subtracting(english.keys).sorted() == [])
        let clientPages = ["layout", "sign-in", "not-found", "dashboard", "compose", "messages", "contacts", "campaigns",
                           "campaign", "opt-outs", "usage", "ledger", "settings", "password-link", "outcome"]
        var clientKeys = Set<String>()
        for (name, text) in templates where clientPages.contains(String(name.dropLast(".mustache".count))) {
            clientKeys.formUnion(keys(text))
        }
        for language in ["fr", "nl"] {
            let own = Catalogue.parse(try #require(BundledTemplates.files.first { $0.0 == "\(language).catalogue" }?.1))
            #expect(clientKeys.subtracting(own.keys).sorted() == [], "\(language)")
            #expect(own.keys.allSatisfy { english[$0] != nil || $0.hasPrefix("error_") }, "\(language) has only known keys")
        }
        #expect(pages.catalogues["nl"]?.text("flash_imported", ["imported": "3", "rejected": "1"])
            == "3 contacten geïmporteerd, 1 regels geweigerd")
        #expect(Catalogue.negotiate(setting: nil, acceptLanguage: "de-DE, fr;q=0.8, nl;q=0.9") == "nl")
        #expect(Catalogue.negotiate(setting: "fr", acceptLanguage: "nl") == "fr")
        #expect(Catalogue.negotiate(setting: nil, acceptLanguage: "*") == "en")
    }
}
