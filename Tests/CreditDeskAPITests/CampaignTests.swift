import CreditDeskCore
import CreditDeskDB
import CreditDeskGateway
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Testing

@testable import CreditDeskAPI
@testable import CreditDeskServices

/// Contacts, reply linking, unsubscribe by list and campaigns. In the messaging suite, so the
/// Kannel-backed campaign runs alone.
extension MessagingTests {
    /// The office's Twilio connection, pointing nowhere: for tests that send nothing out.
    func connectTwilio(_ api: API, _ fixture: Fixture) async throws -> Reply {
        let gateway = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: fixture.keys[.clientAdmin],
            body: [
                "provider": "twilio", "name": "Twilio", "base_url": "http://127.0.0.1:9", "username": "AC123",
                "password": "token", "sender": Self.sender, "home_prefix": "64",
            ])
        #expect(gateway.status == .created)
        return gateway
    }

    func contactsPath(_ fixture: Fixture) -> String { "/v1/accounts/\(fixture.client.id.lower)/contacts" }

    @Test("contacts: numbers must be international, misspelt fields are refused, batches are all or nothing")
    func contacts() async throws {
        try await withMessaging { api, fixture, _, _ in
            let user = fixture.keys[.clientUser]!
            let ana = try await api.call(
                .post, contactsPath(fixture), key: user,
                body: ["first_name": "Ana", "last_name": "Kahu", "mobile": "+64 21 555 0001", "sms_consent": true])
            #expect(ana.status == .created && ana["mobile"] as? String == "+64215550001" && ana["sms_reachable"] as? Bool == true, "\(ana.json ?? [:])")
            let national = try await api.call(.post, contactsPath(fixture), key: user, body: ["first_name": "Bo", "mobile": "021 555"])
            #expect(national.status == .badRequest && national.errorDetails?["field"] as? String == "mobile")

            let batch = try await api.call(
                .post, contactsPath(fixture) + "/batch", key: user,
                body: ["contacts": [["first_name": "Cy", "mobile": "+64215550002"], ["first_name": "Di", "mobil": "+64215550003"]]])
            #expect(batch.status == .badRequest)
            let badSecond = try await api.call(
                .post, contactsPath(fixture) + "/batch", key: user,
                body: ["contacts": [["first_name": "Cy", "mobile": "+64215550002"], ["first_name": "Di", "home_phone": "5550003"]]])
            #expect(badSecond.status == .badRequest && badSecond.errorDetails?["field"] as? String == "contacts[1].home_phone")
            let listed = try await api.call(.get, contactsPath(fixture), key: user)
            #expect((listed["items"] as? [[String: Any]])?.count == 1)

            // Consent can be withdrawn; an empty string clears a number.
            let changed = try await api.call(
                .patch, "/v1/contacts/\(ana.id)", key: user, body: ["sms_consent": false, "mobile": ""])
            #expect(changed["sms_consent"] as? Bool == false && changed["mobile"] == nil && changed["sms_reachable"] as? Bool == false)
            let rival = try await api.call(.patch, "/v1/contacts/\(ana.id)", key: fixture.keys[.otherResellerAdmin], body: ["first_name": "X"])
            #expect(rival.status == .notFound)
        }
    }

    @Test("a reply links to the first contact in the configured field order; a repeated callback is stored once")
    func replyLinking() async throws {
        try await withMessaging(features: ["mms", "inbound"]) { api, fixture, pool, _ in
            let admin = fixture.keys[.clientAdmin]!
            let number = "+64217770000"
            // Older contact has the number as work phone; newer as mobile.
            let work = try await api.call(.post, contactsPath(fixture), key: admin, body: ["first_name": "Work", "work_phone": number])
            let mobile = try await api.call(.post, contactsPath(fixture), key: admin, body: ["first_name": "Mobile", "mobile": number])
            let gateway = try await connectTwilio(api, fixture)
            let inbound = "/v1/callbacks/twilio/\(gateway.id)/inbound?token=\(gateway["callback_token"] as? String ?? "")"
            func reply(_ sid: String, _ text: String, from: String = number) async throws {
                let form = "MessageSid=\(sid)&From=\(from.replacingOccurrences(of: "+", with: "%2B"))&To=%2B6421000000&Body=\(text)"
                #expect(try await api.call(.post, inbound, key: nil, rawBody: form).status == .ok)
            }
            func linked() async throws -> [String?] {
                let page = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/messages?direction=inbound", key: admin)
                return (page["items"] as? [[String: Any]] ?? []).map { $0["contact_id"] as? String }
            }
            try await reply("SM1", "Yes")
            #expect(try await linked() == [mobile.id])  // default order: mobile first
            let settings = try await api.call(
                .put, "/v1/accounts/\(fixture.client.id.lower)/messaging-settings", key: admin,
                body: ["reply_match_order": ["work_phone", "mobile"]])
            #expect(settings["reply_match_order"] as? [String] == ["work_phone", "mobile"])
            try await reply("SM2", "Again")
            #expect(try await linked() == [work.id, mobile.id])
            try await reply("SM3", "Who", from: "+64219990000")
            #expect(try await linked() == [nil, work.id, mobile.id])
            // Twilio retries a webhook: the same MessageSid is not stored (or charged) twice.
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
                body: ["unit": "mms", "amount": 5, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.resellerAdmin],
                body: ["unit": "mms", "amount": 5, "to_account_id": fixture.client.id.lower])
            let mms = "MessageSid=MM1&From=%2B64217770000&To=%2B6421000000&Body=pic&NumMedia=1&MediaUrl0=https%3A%2F%2Fexample.com%2Fa.jpg"
            for _ in 0..<3 { #expect(try await api.call(.post, inbound, key: nil, rawBody: mms).status == .ok) }
            #expect(try await linked().count == 4)
            #expect(try await api.balance(fixture.client.id, .mms, key: admin) == (4, 0, 4))
            let badOrder = try await api.call(
                .put, "/v1/accounts/\(fixture.client.id.lower)/messaging-settings", key: admin,
                body: ["reply_match_order": ["fax"]])
            #expect(badOrder.status == .badRequest)
            try await verifyClean(pool)
        }
    }

    /// Creates `count` contacts in a new list through the batch route; answers the list id.
    func makeList(
        _ api: API, _ fixture: Fixture, name: String, _ contacts: [[String: Any]]
    ) async throws -> String {
        let user = fixture.keys[.clientUser]!
        let list = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/contact-lists", key: user, body: ["name": name])
        #expect(list.status == .created)
        for start in stride(from: 0, to: contacts.count, by: 500) {
            let chunk = Array(contacts[start..<min(start + 500, contacts.count)])
            let created = try await api.call(
                .post, contactsPath(fixture) + "/batch", key: user, body: ["contacts": chunk, "list_id": list.id])
            #expect(created.status == .created, "\(created.json ?? [:])")
        }
        return list.id
    }

    @Test("unsubscribe by list puts every member's mobile on the opt-out list")
    func unsubscribeByList() async throws {
        try await withMessaging { api, fixture, _, _ in
            let listID = try await makeList(
                api, fixture, name: "Leavers",
                [["first_name": "A", "mobile": "+64215550011"], ["first_name": "B", "mobile": "+64215550012"],
                 ["first_name": "C", "home_phone": "+6495550013"]])
            let admin = fixture.keys[.clientAdmin]!
            let path = "/v1/accounts/\(fixture.client.id.lower)/opt-outs"
            let byUser = try await api.call(.post, path, key: fixture.keys[.clientUser], body: ["list_id": listID])
            #expect(byUser.status == .forbidden)
            let both = try await api.call(.post, path, key: admin, body: ["list_id": listID, "phones": ["+64215550099"]])
            #expect(both.status == .badRequest)
            let done = try await api.call(.post, path, key: admin, body: ["list_id": listID])
            #expect(Set(done["phones"] as? [String] ?? []) == ["+64215550011", "+64215550012"])
            let listed = try await api.call(.get, path, key: admin)
            #expect((listed["items"] as? [[String: Any]])?.compactMap { $0["phone"] as? String } == ["+64215550011", "+64215550012"])
        }
    }

    @Test("a scheduled campaign reserves its credits in one batch; cancelling it voids them all")
    func campaignCancel() async throws {
        try await withMessaging(features: ["campaigns", "scheduling"]) { api, fixture, pool, _ in
            _ = try await connectTwilio(api, fixture)
            let listID = try await makeList(
                api, fixture, name: "Patients",
                (1...30).map { ["first_name": "P\($0)", "mobile": "+642155501\(String(format: "%02d", $0))", "sms_consent": true] })
            let user = fixture.keys[.clientUser]!
            let campaign = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/campaigns", key: user,
                body: ["name": "Flu shots", "list_id": listID, "template": "Hi {{first_name}}, flu shots are in.",
                       "send_at": ISO8601.format(Date().addingTimeInterval(3600))])
            #expect(campaign.status == .created && campaign["status"] as? String == "draft")
            // Another reseller sees nothing; read-only users read but do not act.
            let rival = fixture.keys[.otherResellerAdmin]!, readonly = fixture.keys[.clientReadonly]!
            for path in ["", "/quote", "/recipients"] {
                #expect(try await api.call(.get, "/v1/campaigns/\(campaign.id)\(path)", key: rival).status == .notFound)
            }
            #expect(try await api.call(.post, "/v1/campaigns/\(campaign.id)/cancel", key: rival, body: [:]).status == .notFound)
            #expect(try await api.call(.get, "/v1/campaigns/\(campaign.id)", key: readonly).status == .ok)
            let readonlyConfirm = try await api.call(
                .post, "/v1/campaigns/\(campaign.id)/confirm", key: readonly, body: ["accept_terms": true])
            #expect(readonlyConfirm.status == .forbidden)
            let confirmed = try await api.call(.post, "/v1/campaigns/\(campaign.id)/confirm", key: user, body: ["accept_terms": true])
            #expect(confirmed["status"] as? String == "confirmed" && confirmed["credits"] as? NSNumber == 30)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 30, 70))
            let again = try await api.call(.post, "/v1/campaigns/\(campaign.id)/confirm", key: user, body: ["accept_terms": true])
            #expect(again.status == .conflict)
            let cancelled = try await api.call(.post, "/v1/campaigns/\(campaign.id)/cancel", key: user, body: [:])
            #expect(cancelled["status"] as? String == "cancelled")
            #expect((cancelled["counts"] as? [String: Any])?["cancelled_now"] as? NSNumber == 30)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let results = try await api.call(.get, "/v1/campaigns/\(campaign.id)/recipients?limit=100", key: user)
            #expect((results["items"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "cancelled" } == true)
            try await verifyClean(pool)
        }
    }
}

extension MessagingTests {
    @Test("a 1,000-recipient campaign through Kannel: quoted, tested, confirmed, delivered, credits exactly reconciled")
    func campaignThroughKannel() async throws {
        try await withMessaging(features: ["campaigns"]) { api, fixture, pool, _ in
            let (kannel, _) = try await connectKannel(api, fixture)
            try await withKannel(kannel) {
            let user = fixture.keys[.clientUser]!, client = fixture.client.id.lower
            let campaign = try await draftReminderCampaign(api, fixture)

            let quote = try await api.call(.get, "/v1/campaigns/\(campaign.id)/quote", key: user)
            #expect(quote["members"] as? NSNumber == 1_004 && quote["recipients"] as? NSNumber == 1_000)
            #expect(quote["credits_needed"] as? NSNumber == 1_300 && quote["credits_available"] as? NSNumber == 2_000)
            #expect(quote["sufficient"] as? Bool == true && quote["segments"] as? NSNumber == 1_000)
            #expect((quote["skipped"] as? [String: NSNumber])?.count == 4)

            let test = try await api.call(.post, "/v1/campaigns/\(campaign.id)/test", key: user, body: ["to": "+64215559999"])
            #expect(test.status == .accepted && test["text"] as? String == "Hi P0, your appointment is tomorrow.")
            _ = try await waitForStatus(api, fixture, messageID: test.id, ["delivered"])
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (1_999, 0, 1_999))

            let noTerms = try await api.call(.post, "/v1/campaigns/\(campaign.id)/confirm", key: user, body: ["accept_terms": false])
            #expect(noTerms.status == .badRequest && noTerms.errorDetails?["field"] as? String == "accept_terms")
            let confirmed = try await api.call(.post, "/v1/campaigns/\(campaign.id)/confirm", key: user, body: ["accept_terms": true])
            #expect(confirmed["status"] as? String == "confirmed" && confirmed["credits"] as? NSNumber == 1_300)
            #expect(confirmed["recipients"] as? NSNumber == 1_000 && confirmed["skipped"] as? NSNumber == 4)
            // The whole campaign was reserved by one ledger movement.
            let reserves = try await api.call(.get, "/v1/accounts/\(client)/entries?kind=reserve&limit=10", key: user)
            #expect((reserves["items"] as? [[String: Any]])?.compactMap { ($0["amount"] as? NSNumber)?.int64Value }.sorted() == [1, 1_300])

            let deadline = Date().addingTimeInterval(300)
            var counts: [String: NSNumber] = [:]
            while Date() < deadline {
                counts = (try await api.call(.get, "/v1/campaigns/\(campaign.id)", key: user))["counts"] as? [String: NSNumber] ?? [:]
                if counts["delivered"] == 1_000 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(counts == ["delivered": 1_000])
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (699, 0, 699))
            try await waitForSMSC(kannel, count: 1_001)

            try await expectRecipients(api, campaignID: campaign.id, key: user)
            try await verifyClean(pool)
            }
        }
    }
}

extension MessagingTests {
    @Test("during a key rotation the dispatcher opens secrets under the new key and the one being retired")
    func rotationKeys() throws {
        let (new, old, stray) = (
            try SecretBox(encodedKey: SecretBox.generateKey()), try SecretBox(encodedKey: SecretBox.generateKey()),
            try SecretBox(encodedKey: SecretBox.generateKey())
        )
        let settings = MessagingSettings(secretBox: new, previousSecretBox: old, publicBaseURL: "http://127.0.0.1:1")
        #expect(settings.box(forKeyID: new.keyID)?.keyID == new.keyID)
        #expect(settings.box(forKeyID: old.keyID)?.keyID == old.keyID)
        #expect(settings.box(forKeyID: stray.keyID) == nil)
    }
}

extension MessagingTests {
    @Test("replies are forwarded to the last writer: by email through SMTP, by SMS abroad, by email only to NZ mobiles")
    func replyRouting() async throws {
        let sink = try SMTPSink()
        defer { sink.stop() }
        let mailer = SMTPMailer(url: sink.url, from: "replies@creditdesk.test")
        try await withMessaging(features: ["inbound", "international"], mailer: mailer) { api, fixture, pool, _ in
            let agent = fixture.keys[.clientUser]!, agentID = fixture.users[.clientUser]!.lower
            let gateway = try await connectTwilio(api, fixture)
            try await api.call(
                .put, "/v1/accounts/\(fixture.reseller.id.lower)/rates/61", key: fixture.keys[.resellerAdmin],
                body: ["credits_per_segment": 3])
            let inbound = "/v1/callbacks/twilio/\(gateway.id)/inbound?token=\(gateway["callback_token"] as? String ?? "")"
            let customer = "+64217770000"
            // The agent wrote to the customer, so the customer's replies are the agent's.
            let sent = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: agent, body: ["to": customer, "text": "Hello"])
            #expect(sent.status == .accepted)
            func reply(_ sid: String, _ text: String) async throws -> [String: Any] {
                let form = "MessageSid=\(sid)&From=%2B64217770000&To=%2B6421000000&Body=\(text)"
                #expect(try await api.call(.post, inbound, key: nil, rawBody: form).status == .ok)
                for _ in 0..<100 {
                    let page = try await api.call(
                        .get, "/v1/accounts/\(fixture.client.id.lower)/messages?direction=inbound", key: agent)
                    if let row = (page["items"] as? [[String: Any]])?.first(where: { $0["text"] as? String == text }),
                        row["routed_to"] is String
                    {
                        return row
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                Issue.record("reply \(text) was not routed")
                return [:]
            }
            let path = "/v1/users/\(agentID)/reply-routing"
            // Nothing asked for: not routed at all.
            let noRoute = try await api.call(.get, path, key: agent)
            #expect(noRoute["channel"] as? String == "none")

            let byEmail = try await api.call(.put, path, key: agent, body: ["channel": "email", "email": "agent@office.example"])
            #expect(byEmail.status == .ok && byEmail["email"] as? String == "agent@office.example")
            #expect(try await reply("SM10", "Thanks")["routed_to"] as? String == "email agent@office.example")
            let mail = try #require(sink.mails.first)
            #expect(mail.recipients == ["agent@office.example"] && mail.from == "replies@creditdesk.test")
            #expect(mail.data.contains("Subject: SMS reply from +64217770000") && mail.data.contains("Thanks"))

            // A New Zealand mobile gets replies by email only.
            try await api.call(.put, path, key: agent, body: ["channel": "mobile", "mobile": "+64219998888", "email": "agent@office.example"])
            #expect(try await reply("SM11", "Again")["routed_to"] as? String == "email agent@office.example")
            #expect(sink.mails.count == 2)

            // An Australian mobile gets the reply as an SMS, sent and charged like any other.
            let before = try await api.balance(fixture.client.id, .sms, key: agent)
            try await api.call(.put, path, key: agent, body: ["channel": "mobile", "mobile": "+61412345678"])
            let forwarded = try await reply("SM12", "Call me")
            #expect((forwarded["routed_to"] as? String)?.hasPrefix("mobile +61412345678") == true)
            let out = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/messages?phone=%2B61412345678", key: agent)
            let forward = try #require((out["items"] as? [[String: Any]])?.first)
            #expect(forward["text"] as? String == "Reply from +64217770000: Call me" && forward["credits"] as? NSNumber == 3)
            #expect(try await api.balance(fixture.client.id, .sms, key: agent).available == before.available - 3)
            #expect(sink.mails.count == 2)

            // Bad input changes nothing; another reseller cannot see the user.
            let noMobile = try await api.call(.put, path, key: agent, body: ["channel": "mobile"])
            #expect(noMobile.status == .badRequest && noMobile.errorDetails?["field"] as? String == "mobile")
            #expect(try await api.call(.get, path, key: fixture.keys[.otherResellerAdmin]).status == .notFound)
            try await verifyClean(pool)
        }
    }
}

extension MessagingTests {
    @Test("a delivery report that overtakes the gateway's answer counts as acceptance: charged once, delivered")
    func reportBeforeAnswer() async throws {
        try await withMessaging { api, fixture, pool, _ in
            // A connection nobody answers: the message stays queued between retries.
            let gateway = try await connectTwilio(api, fixture)
            let user = fixture.keys[.clientUser]!
            let sent = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: user, body: ["to": "+64211112222", "text": "hi"])
            #expect(sent["status"] as? String == "queued")
            let gatewayID = try #require(UUID(uuidString: gateway.id)), messageID = try #require(UUID(uuidString: sent.id))
            let tokenHash = try await pool.withConnection { try #require(try GatewayStore.connection($0, id: gatewayID)).callbackTokenHash }
            let signature = CallbackSignature.sign(messageID: messageID, gatewayID: gatewayID, key: tokenHash)
            let report = try await api.call(
                .post, "/v1/callbacks/twilio/\(gateway.id)/status?message=\(sent.id)&signature=\(signature)", key: nil,
                rawBody: "MessageStatus=delivered")
            #expect(report.status == .ok)
            let row = try await waitForStatus(api, fixture, messageID: sent.id, ["delivered"])
            #expect(row["sent_at"] is String)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            // The dispatcher's next attempt finds the message gone and sends nothing more.
            try await Task.sleep(for: .seconds(3))
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            try await verifyClean(pool)
        }
    }

    /// Funds the client (2 credits a segment to 022 numbers), opts one number out, and drafts a
    /// campaign to a list of 1,000 reachable contacts and four that are skipped for a reason.
    func draftReminderCampaign(_ api: API, _ fixture: Fixture) async throws -> Reply {
        let operatorKey = fixture.keys[.platformOperator]!, resellerAdmin = fixture.keys[.resellerAdmin]!
        let user = fixture.keys[.clientUser]!, client = fixture.client.id.lower
        try await api.call(
            .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
            body: ["unit": "sms", "amount": 5_000, "to_account_id": fixture.reseller.id.lower])
        try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: resellerAdmin,
            body: ["unit": "sms", "amount": 1_900, "to_account_id": client])
        // 022 numbers cost 2 credits a segment at this reseller.
        try await api.call(
            .put, "/v1/accounts/\(fixture.reseller.id.lower)/rates/6422", key: resellerAdmin, body: ["credits_per_segment": 2])
        try await api.call(
            .post, "/v1/accounts/\(client)/opt-outs", key: fixture.keys[.clientAdmin], body: ["phones": ["+64210009999"]])
        var contacts: [[String: Any]] = (0..<1_000).map { index in
            let network = index < 700 ? "21" : "22"
            return ["first_name": "P\(index)", "mobile": "+64\(network)\(String(format: "%07d", index))", "sms_consent": true]
        }
        contacts += [
            ["first_name": "NoMobile", "home_phone": "+6495550000", "sms_consent": true],
            ["first_name": "NoConsent", "mobile": "+64210008888", "sms_consent": false],
            ["first_name": "OptedOut", "mobile": "+64210009999", "sms_consent": true],
            ["first_name": "Twin", "mobile": "+64210000000", "sms_consent": true],
        ]
        let listID = try await makeList(api, fixture, name: "Everyone", contacts)
        let campaign = try await api.call(
            .post, "/v1/accounts/\(client)/campaigns", key: user,
            body: ["name": "Reminders", "list_id": listID, "template": "Hi {{first_name}}, your appointment is tomorrow."])
        #expect(campaign.status == .created)
        return campaign
    }

    /// Every recipient, page by page: 1,000 delivered, the four skipped with their reasons, and
    /// the credits they were charged adding up to the campaign's.
    func expectRecipients(_ api: API, campaignID: String, key user: String) async throws {
        var recipients: [[String: Any]] = []
        var cursor: String?
        repeat {
            let page = try await api.call(
                .get, "/v1/campaigns/\(campaignID)/recipients?limit=500" + (cursor.map { "&cursor=\($0)" } ?? ""), key: user)
            recipients += page["items"] as? [[String: Any]] ?? []
            cursor = page["next_cursor"] as? String
        } while cursor != nil
        #expect(recipients.count == 1_004)
        #expect(recipients.filter { $0["status"] as? String == "delivered" }.count == 1_000)
        let skipped = recipients.filter { $0["status"] as? String == "skipped" }.compactMap { $0["reason"] as? String }
        #expect(skipped == [
            "no mobile number", "no SMS consent", "opted out", "duplicate number: sent to an earlier contact",
        ])
        let credits = recipients.compactMap { ($0["credits"] as? NSNumber)?.int64Value }.reduce(0, +)
        #expect(credits == 1_300)
    }
}
