import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

/// The client's pages of the console: compose, messages, contacts and their CSV import,
/// campaigns and opt-outs; and the languages they speak.
@Suite("The web console: client pages")
struct ConsoleClientTests {
    let password = ConsoleTests.password

    /// The client's desk user, signed in, with MMS, campaigns and a gateway on the client and
    /// 100 SMS credits (see `MessagingTests.withMessaging`).
    func withClientDesk(
        _ body: @escaping @Sendable (API, Fixture, DatabasePool, ConsoleBrowser) async throws -> Void
    ) async throws {
        try await MessagingTests().withMessaging(features: ["campaigns", "mms"]) { api, fixture, pool, _ in
            _ = try await MessagingTests().connect(
                api, fixture, .twilio, name: "Office", baseURL: "http://127.0.0.1:9", username: "AC1", password: "p")
            let email = try await ConsoleTests().consoleUser(
                fixture, pool, email: "desk@dental.example", name: "Front Desk", role: .user, account: fixture.client)
            let browser = ConsoleBrowser(api.client)
            #expect(try await browser.signIn(email, password).location == "/console")
            try await body(api, fixture, pool, browser)
        }
    }

    func csrf(_ browser: ConsoleBrowser, _ path: String) async throws -> String {
        try #require(try await browser.get(path).field("csrf"))
    }

    @Test("compose: the live counter's alphabets, a send queued and listed, an opted-out number refused inline with the text kept")
    func compose() async throws {
        try await withClientDesk { api, fixture, _, browser in
            let page = try await browser.get("/console/compose")
            #expect(page.status == .ok && page.html.contains("data-gsm=\"@£$¥") && page.html.contains("data-counter=\"counter\""))
            #expect(!page.html.contains("<script>"), "no inline script")
            let csrf = try #require(page.field("csrf"))
            let sent = try await browser.post(
                "/console/compose",
                [("csrf", csrf), ("form_key", freshKey()), ("to", "+64211110000"), ("text", "Your appointment is at 10")])
            #expect(sent.location == "/console/messages")
            let messages = try await browser.get("/console/messages")
            #expect(messages.html.contains("queued: 1 segment(s), 1 SMS credits") && messages.html.contains("+64211110000"))

            let optOut = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/opt-outs", key: fixture.keys[.clientAdmin],
                body: ["phones": ["+64212220000"]])
            #expect(optOut.status == .created || optOut.status == .ok)
            let refused = try await browser.post(
                "/console/compose",
                [("csrf", csrf), ("form_key", freshKey()), ("to", "+64212220000"), ("text", "Hello again")])
            #expect(refused.status == .unprocessableContent && refused.html.contains("has opted out"))
            #expect(refused.html.contains(">Hello again</textarea>") && refused.field("to") == "+64212220000")
            let filtered = try await browser.get("/console/messages?phone=%2B64212220000")
            #expect(filtered.html.contains("No messages match."))
        }
    }

    @Test("CSV import: good rows imported into a new list, bad rows listed with their line and reason, a resubmission applies once")
    func csvImport() async throws {
        try await withClientDesk { _, _, pool, browser in
            let csv = """
                name;mobile;email;consent\r
                Ana Lopez;+64 21 300 0001;ana@example.com;yes\r
                "Ben ""B"" Ng";+64213000002;;oui\r
                No Phone;;x@example.com;yes\r
                Cara Diaz;not a number;;yes\r
                Dup Ana;+64213000001;;yes\r
                Eve;+64213000005;;maybe\r

                """
            let csrf = try await csrf(browser, "/console/contacts")
            let fields = [("csrf", csrf), ("form_key", freshKey()), ("list_id", ""), ("new_list", "Patients")]
            let result = try await browser.upload("/console/contacts/import", fields, file: ("file", "patients.csv", csv))
            #expect(result.status == .ok && result.html.contains("2 contacts imported, 4 rows rejected"), "\(result.html)")
            for line in ["Line 4: mobile: no mobile number", "Line 5: ", "Line 6: mobile: +64213000001 is already on line 2",
                         "Line 7: consent: consent &quot;maybe&quot; is neither yes nor no"] {
                #expect(result.html.contains(line), "\(line)")
            }
            let again = try await browser.upload("/console/contacts/import", fields, file: ("file", "patients.csv", csv))
            #expect(again.html.contains("(already applied)"))
            let contacts = try await browser.get("/console/contacts")
            #expect(contacts.html.contains("Ana Lopez") && contacts.html.contains("Ben &quot;B&quot; Ng"))
            #expect(contacts.html.contains("<td>Patients</td><td class=\"num\">2</td>"), "\(contacts.html)")
            let count = try await pool.withConnection { try $0.execute("SELECT count(*) AS n FROM contacts").first?.decode(Int64.self, "n") }
            #expect(count == 2)
            let empty = try await browser.upload(
                "/console/contacts/import", [("csrf", csrf), ("form_key", freshKey())], file: ("file", "x.csv", "mobile\r\n"))
            #expect(empty.location == "/console/contacts")
            #expect(try await browser.get("/console/contacts").html.contains("the header row needs a name"))
        }
    }

    @Test("a campaign from a CSV-imported list: quote, test to one's own number, confirm only with the terms, recipients' results")
    func campaign() async throws {
        try await withClientDesk { _, _, _, browser in
            let csv = "first_name,last_name,mobile,consent\nAna,Lopez,+64213000001,yes\nBen,Ng,+64213000002,yes\nCy,,+64213000003,no\n"
            let csrf = try await csrf(browser, "/console/contacts")
            _ = try await browser.upload(
                "/console/contacts/import", [("csrf", csrf), ("form_key", freshKey()), ("new_list", "Recall")],
                file: ("file", "recall.csv", csv))
            let campaigns = try await browser.get("/console/campaigns")
            let listID = try #require(campaigns.html.firstMatch(of: /<option value="([0-9a-f-]{36})">Recall \(3\)/)?.output.1)
            let created = try await browser.post(
                "/console/campaigns",
                [("csrf", csrf), ("form_key", freshKey()), ("name", "Recall"), ("list_id", String(listID)),
                 ("template", "Hi {{first_name}}, time for your check-up")])
            let path = try #require(created.location)
            let draft = try await browser.get(path)
            #expect(draft.html.contains("data-fact=\"members\">3<") && draft.html.contains("data-fact=\"recipients\">2<"))
            #expect(draft.html.contains("data-fact=\"needed\">2 SMS<") && draft.html.contains("no SMS consent (1)"), "\(draft.html)")
            _ = try await browser.post("\(path)/test", [("csrf", csrf), ("form_key", freshKey()), ("to", "+64219990000")])
            #expect(try await browser.get(path).html.contains("Test sent to +64219990000"))
            _ = try await browser.post("\(path)/confirm", [("csrf", csrf), ("form_key", freshKey())])
            #expect(try await browser.get(path).html.contains("the campaign terms must be accepted"))
            _ = try await browser.post("\(path)/confirm", [("csrf", csrf), ("form_key", freshKey()), ("accept_terms", "yes")])
            let confirmed = try await browser.get(path)
            #expect(confirmed.html.contains("Campaign confirmed: 2 recipients, 2 credits reserved"), "\(confirmed.html)")
            #expect(confirmed.html.contains("+64213000003") && confirmed.html.contains("no SMS consent"))
        }
    }

    @Test("languages: Accept-Language picks Dutch, the user's setting French; client pages are whole in both")
    func languages() async throws {
        try await withClientDesk { _, _, _, browser in
            browser.acceptLanguage = "nl-BE,nl;q=0.9,en;q=0.5"
            let dutch = try await browser.get("/console")
            #expect(dutch.html.contains("<html lang=\"nl\">") && dutch.html.contains(">Berichten</a>"))
            #expect(dutch.html.contains("SMS gebruikt deze maand"))
            let csrf = try #require(dutch.field("csrf"))
            _ = try await browser.post("/console/settings/language", [("csrf", csrf), ("form_key", freshKey()), ("language", "fr")])
            let french = try await browser.get("/console/settings")
            #expect(french.html.contains("Langue enregistrée") && french.html.contains(">Désinscriptions</a>"))
            let refused = try await browser.post(
                "/console/compose", [("csrf", csrf), ("form_key", freshKey()), ("to", "+64211110000"), ("text", "")])
            #expect(refused.html.contains("Une valeur saisie n’est pas valable"))
            let bad = try await browser.post("/console/settings/language", [("csrf", csrf), ("form_key", freshKey()), ("language", "de")])
            #expect(bad.location == "/console/settings")
        }
    }

    @Test("opt-outs: added and removed from the page; a client user without the right sees no form")
    func optOuts() async throws {
        try await withClientDesk { api, fixture, pool, browser in
            #expect(!(try await browser.get("/console/opt-outs").html.contains("action=\"/console/opt-outs\"")))
            let admin = ConsoleBrowser(api.client)
            let email = try await ConsoleTests().consoleUser(
                fixture, pool, email: "boss@dental.example", name: "Boss", role: .admin, account: fixture.client)
            _ = try await admin.signIn(email, password)
            let csrf = try await csrf(admin, "/console/opt-outs")
            _ = try await admin.post("/console/opt-outs", [("csrf", csrf), ("form_key", freshKey()), ("phone", "+64 21 444 0000")])
            #expect(try await admin.get("/console/opt-outs").html.contains("<td>+64214440000</td>"))
            _ = try await admin.post("/console/opt-outs/remove", [("csrf", csrf), ("form_key", freshKey()), ("phone", "+64214440000")])
            #expect(try await admin.get("/console/opt-outs").html.contains("+64214440000 can receive messages again"))
        }
    }
}
