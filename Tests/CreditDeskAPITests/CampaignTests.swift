import CreditDeskContract
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
    func connectTwilio(_ api: API, _ fixture: Fixture) async throws -> Components.Schemas.Gateway {
        try await connect(
            api, fixture, .twilio, name: "Twilio", baseURL: "http://127.0.0.1:9", username: "AC123", password: "token")
    }

    /// The path of the connection's inbound webhook, with its token.
    func inboundPath(_ gateway: Components.Schemas.Gateway) throws -> String {
        "/v1/callbacks/twilio/\(gateway.id)/inbound?token=\(try #require(gateway.callbackToken))"
    }

    func contactsPath(_ fixture: Fixture) -> String { "/v1/accounts/\(fixture.client.id.lower)/contacts" }

    func createContact(
        _ api: API, _ fixture: Fixture, key: String, _ contact: Components.Schemas.NewContact
    ) async throws -> Endpoints.CreateContact.Output {
        try await api.typed(key).createContact(
            path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()), body: .json(contact))
    }

    @Test("contacts: numbers must be international, misspelt fields are refused, batches are all or nothing")
    func contacts() async throws {
        try await withMessaging { api, fixture, _, _ in
            let user = fixture.keys[.clientUser]!
            let ana = try await createContact(
                api, fixture, key: user, .init(firstName: "Ana", lastName: "Kahu", mobile: "+64 21 555 0001", smsConsent: true)
            ).created.body.json
            #expect(ana.mobile == "+64215550001" && ana.smsReachable)
            let national = try await createContact(api, fixture, key: user, .init(firstName: "Bo", mobile: "021 555"))
            #expect(try national.badRequest.body.json.error.detail("field") == "mobile")

            let batch = try await api.call(
                .post, contactsPath(fixture) + "/batch", key: user,
                body: ["contacts": [["first_name": "Cy", "mobile": "+64215550002"], ["first_name": "Di", "mobil": "+64215550003"]]])
            #expect(batch.status == .badRequest)
            let badSecond = try await api.call(
                .post, contactsPath(fixture) + "/batch", key: user,
                body: ["contacts": [["first_name": "Cy", "mobile": "+64215550002"], ["first_name": "Di", "home_phone": "5550003"]]])
            #expect(badSecond.status == .badRequest && badSecond.errorField == "contacts[1].home_phone")
            let listed = try await api.typed(user).listContacts(path: .init(id: fixture.client.id.objectID)).ok.body.json
            #expect(listed.items.map(\.id) == [ana.id])

            // Consent can be withdrawn; an empty string clears a number.
            func update(_ change: Components.Schemas.ContactInput, as key: String?) async throws -> Endpoints.UpdateContact.Output {
                try await api.typed(key).updateContact(
                    path: .init(id: ana.id), headers: .init(idempotencyKey: freshKey()), body: .json(change))
            }
            let changed = try await update(.init(mobile: "", smsConsent: false), as: user).ok.body.json
            #expect(!changed.smsConsent && changed.mobile == nil && !changed.smsReachable)
            let rival = try await update(.init(firstName: "X"), as: fixture.keys[.otherResellerAdmin])
            #expect(try rival.notFound.body.json.error.code == "not_found")
        }
    }

    @Test("a reply links to the first contact in the configured field order; a repeated callback is stored once")
    func replyLinking() async throws {
        try await withMessaging(features: ["mms", "inbound"]) { api, fixture, pool, _ in
            let admin = fixture.keys[.clientAdmin]!
            let number = "+64217770000"
            // Older contact has the number as work phone; newer as mobile.
            let work = try await createContact(api, fixture, key: admin, .init(firstName: "Work", workPhone: number)).created.body.json
            let mobile = try await createContact(api, fixture, key: admin, .init(firstName: "Mobile", mobile: number)).created.body.json
            let inbound = try inboundPath(try await connectTwilio(api, fixture))
            func reply(_ sid: String, _ text: String, from: String = number) async throws {
                let form = "MessageSid=\(sid)&From=\(from.replacingOccurrences(of: "+", with: "%2B"))&To=%2B6421000000&Body=\(text)"
                #expect(try await api.call(.post, inbound, key: nil, rawBody: form).status == .ok)
            }
            func linked() async throws -> [ObjectID?] {
                try await messages(api, fixture, direction: .inbound, key: admin).map(\.contactId)
            }
            try await reply("SM1", "Yes")
            #expect(try await linked() == [mobile.id])  // default order: mobile first
            let settings = try await api.typed(admin).setMessagingSettings(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(replyMatchOrder: [.workPhone, .mobile]))
            ).ok.body.json
            #expect(settings.replyMatchOrder == [.workPhone, .mobile])
            try await reply("SM2", "Again")
            #expect(try await linked() == [work.id, mobile.id])
            try await reply("SM3", "Who", from: "+64219990000")
            #expect(try await linked() == [nil, work.id, mobile.id])
            // Twilio retries a webhook: the same MessageSid is not stored (or charged) twice.
            try await transfer(api, fixture, .mms, 5, toClient: 5)
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
        _ api: API, _ fixture: Fixture, name: String, _ contacts: [Components.Schemas.NewContact]
    ) async throws -> ObjectID {
        let user = api.typed(fixture.keys[.clientUser])
        let account = fixture.client.id.objectID
        let list = try await user.createContactList(
            path: .init(id: account), headers: .init(idempotencyKey: freshKey()), body: .json(.init(name: name))
        ).created.body.json
        for start in stride(from: 0, to: contacts.count, by: 500) {
            let chunk = Array(contacts[start..<min(start + 500, contacts.count)])
            let created = try await user.createContacts(
                path: .init(id: account), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(contacts: chunk, listId: list.id.description))
            ).created.body.json
            #expect(created.items.count == chunk.count)
        }
        return list.id
    }

    @Test("unsubscribe by list puts every member's mobile on the opt-out list")
    func unsubscribeByList() async throws {
        try await withMessaging { api, fixture, _, _ in
            let listID = try await makeList(
                api, fixture, name: "Leavers",
                [.init(firstName: "A", mobile: "+64215550011"), .init(firstName: "B", mobile: "+64215550012"),
                 .init(firstName: "C", homePhone: "+6495550013")])
            let admin = fixture.keys[.clientAdmin]!
            let path = "/v1/accounts/\(fixture.client.id.lower)/opt-outs"
            let list = listID.description
            let byUser = try await api.call(.post, path, key: fixture.keys[.clientUser], body: ["list_id": list])
            #expect(byUser.status == .forbidden)
            // One or the other: the contract's oneOf, which the typed client cannot even build.
            let both = try await api.call(.post, path, key: admin, body: ["list_id": list, "phones": ["+64215550099"]])
            #expect(both.status == .badRequest)
            let done = try await api.call(.post, path, key: admin, body: ["list_id": list])
            #expect(Set(try done.decode(Components.Schemas.OptOutBatch.self).phones) == ["+64215550011", "+64215550012"])
            let listed = try await api.typed(admin).listOptOuts(path: .init(id: fixture.client.id.objectID)).ok.body.json
            #expect(listed.items.map(\.phone) == ["+64215550011", "+64215550012"])
        }
    }

    @Test("a scheduled campaign reserves its credits in one batch; cancelling it voids them all")
    func campaignCancel() async throws {
        try await withMessaging(features: ["campaigns", "scheduling"]) { api, fixture, pool, _ in
            _ = try await connectTwilio(api, fixture)
            let listID = try await makeList(
                api, fixture, name: "Patients",
                (1...30).map { .init(firstName: "P\($0)", mobile: "+642155501\(String(format: "%02d", $0))", smsConsent: true) })
            let user = fixture.keys[.clientUser]!
            let office = api.typed(user)
            let created = try await office.createCampaign(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(
                    name: "Flu shots", listId: listID, template: "Hi {{first_name}}, flu shots are in.",
                    sendAt: Date().addingTimeInterval(3600)))
            ).created.body.json
            #expect(created.status == .draft)
            let campaign = (id: created.id.description, typed: created.id)
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
            func confirm() async throws -> Endpoints.ConfirmCampaign.Output {
                try await office.confirmCampaign(
                    path: .init(id: campaign.typed), headers: .init(idempotencyKey: freshKey()), body: .json(.init(acceptTerms: true)))
            }
            let confirmed = try await confirm().ok.body.json
            #expect(confirmed.status == .confirmed && confirmed.credits == 30)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 30, 70))
            #expect(try await confirm().conflict.body.json.error.code == "conflict")
            let cancelled = try await office.cancelCampaign(
                path: .init(id: campaign.typed), headers: .init(idempotencyKey: freshKey())
            ).ok.body.json
            #expect(cancelled.status == .cancelled && cancelled.counts.additionalProperties["cancelled_now"] == 30)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let results = try await office.listCampaignRecipients(path: .init(id: campaign.typed), query: .init(limit: 100))
            #expect(try results.ok.body.json.items.map(\.status) == Array(repeating: "cancelled", count: 30))
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
            let user = fixture.keys[.clientUser]!, office = api.typed(user)
            let campaign = try await draftReminderCampaign(api, fixture).id

            let quote = try await office.quoteCampaign(path: .init(id: campaign)).ok.body.json
            #expect(quote.members == 1_004 && quote.recipients == 1_000 && quote.segments == 1_000)
            #expect(quote.creditsNeeded == 1_300 && quote.creditsAvailable == 2_000 && quote.sufficient)
            #expect(quote.skipped.additionalProperties.count == 4)

            let test = try await office.testCampaign(
                path: .init(id: campaign), headers: .init(idempotencyKey: freshKey()), body: .json(.init(to: "+64215559999"))
            ).accepted.body.json
            #expect(test.text == "Hi P0, your appointment is tomorrow.")
            _ = try await waitForStatus(api, fixture, messageID: test.id, [.delivered])
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (1_999, 0, 1_999))

            func confirm(_ accept: Bool) async throws -> Endpoints.ConfirmCampaign.Output {
                try await office.confirmCampaign(
                    path: .init(id: campaign), headers: .init(idempotencyKey: freshKey()), body: .json(.init(acceptTerms: accept)))
            }
            #expect(try await confirm(false).badRequest.body.json.error.detail("field") == "accept_terms")
            let confirmed = try await confirm(true).ok.body.json
            #expect(confirmed.status == .confirmed && confirmed.credits == 1_300)
            #expect(confirmed.recipients == 1_000 && confirmed.skipped == 4)
            // The whole campaign was reserved by one ledger movement.
            let reserves = try await office.listEntries(
                path: .init(id: fixture.client.id.objectID), query: .init(kind: .reserve, limit: 10)
            ).ok.body.json
            #expect(reserves.items.map(\.amount).sorted() == [1, 1_300])

            let deadline = Date().addingTimeInterval(300)
            var counts: [String: Int] = [:]
            var progress: Components.Schemas.CampaignProgress?
            while Date() < deadline {
                let read = try await office.getCampaign(path: .init(id: campaign)).ok.body.json
                (counts, progress) = (read.counts.additionalProperties, read.progress)
                if counts["delivered"] == 1_000 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(counts == ["delivered": 1_000])
            #expect(progress?.sent == 1_000 && progress?.delivered == 1_000 && progress?.remaining == 0)
            #expect(progress?.failed == 0 && progress?.estimatedFinish == nil && (progress?.perSecond ?? 0) > 0)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (699, 0, 699))
            try await waitForSMSC(kannel, count: 1_001)

            try await expectRecipients(api, campaignID: campaign, key: user)
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
    @Test("a delivery report that overtakes the gateway's answer counts as acceptance: charged once by the dispatcher, not resent")
    func reportBeforeAnswer() async throws {
        try await withMessaging { api, fixture, pool, _ in
            // A connection nobody answers: the message stays queued between retries.
            let gateway = try await connectTwilio(api, fixture)
            let user = fixture.keys[.clientUser]!
            let sent = try await send(api, fixture, key: user, to: "+64211112222", "hi").accepted.body.json
            #expect(sent.status == .queued)
            let path = try await twilioStatusPath(pool, gateway: gateway.id, message: sent.id)
            #expect(try await api.call(.post, path, key: nil, rawBody: "MessageStatus=delivered").status == .ok)
            let row = try await waitForStatus(api, fixture, messageID: sent.id, [.delivered])
            #expect(row?.sentAt != nil)
            // The report leaves the charge to the dispatcher: its next attempt finds the
            // message delivered, posts the reservation and sends nothing more.
            #expect(try await api.balance(fixture.client.id, .sms, key: user).available == 99)
            var balance = try await api.balance(fixture.client.id, .sms, key: user)
            for _ in 0..<100 where balance != (99, 0, 99) {
                try await Task.sleep(for: .milliseconds(200))
                balance = try await api.balance(fixture.client.id, .sms, key: user)
                #expect(balance.available == 99)
            }
            #expect(balance == (99, 0, 99))
            try await Task.sleep(for: .seconds(3))
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (99, 0, 99))
            try await verifyClean(pool)
        }
    }

    @Test("a failure report that overtakes the gateway's answer releases the credits: never charged, not resent")
    func failureReportBeforeAnswer() async throws {
        try await withMessaging { api, fixture, pool, _ in
            let gateway = try await connectTwilio(api, fixture)
            let user = fixture.keys[.clientUser]!
            let sent = try await send(api, fixture, key: user, to: "+64211113333", "hi").accepted.body.json
            let path = try await twilioStatusPath(pool, gateway: gateway.id, message: sent.id)
            #expect(try await api.call(.post, path, key: nil, rawBody: "MessageStatus=undelivered").status == .ok)
            let row = try await waitForStatus(api, fixture, messageID: sent.id, [.failed])
            #expect(row?.failureReason == "not delivered")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            // The dispatcher's next attempt, and a late "delivered", charge nothing.
            try await Task.sleep(for: .seconds(3))
            #expect(try await api.call(.post, path, key: nil, rawBody: "MessageStatus=delivered").status == .ok)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            try await verifyClean(pool)
        }
    }

    /// Where Twilio posts a message's status, signed as the daemon signs it.
    func twilioStatusPath(_ pool: DatabasePool, gateway: ObjectID, message: ObjectID) async throws -> String {
        let (gatewayID, messageID) = (gateway.uuid, message.uuid)
        let tokenHash = try await pool.withConnection { try #require(try GatewayStore.connection($0, id: gatewayID)).callbackTokenHash }
        let signature = CallbackSignature.sign(messageID: messageID, gatewayID: gatewayID, key: tokenHash)
        return "/v1/callbacks/twilio/\(gateway)/status?message=\(message)&signature=\(signature)"
    }

    /// Funds the client (2 credits a segment to 022 numbers), opts one number out, and drafts a
    /// campaign to a list of 1,000 reachable contacts and four that are skipped for a reason.
    func draftReminderCampaign(_ api: API, _ fixture: Fixture) async throws -> Components.Schemas.Campaign {
        try await transfer(api, fixture, .sms, 5_000, toClient: 1_900)
        // 022 numbers cost 2 credits a segment at this reseller.
        _ = try await api.typed(fixture.keys[.resellerAdmin]).setRate(
            path: .init(id: fixture.reseller.id.objectID, prefix: "6422"), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(creditsPerSegment: 2))
        ).ok
        let optOut = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/opt-outs", key: fixture.keys[.clientAdmin],
            body: ["phones": ["+64210009999"]])
        #expect(optOut.status == .created || optOut.status == .ok)
        var contacts: [Components.Schemas.NewContact] = (0..<1_000).map { index in
            let network = index < 700 ? "21" : "22"
            return .init(firstName: "P\(index)", mobile: "+64\(network)\(String(format: "%07d", index))", smsConsent: true)
        }
        contacts += [
            .init(firstName: "NoMobile", homePhone: "+6495550000", smsConsent: true),
            .init(firstName: "NoConsent", mobile: "+64210008888", smsConsent: false),
            .init(firstName: "OptedOut", mobile: "+64210009999", smsConsent: true),
            .init(firstName: "Twin", mobile: "+64210000000", smsConsent: true),
        ]
        let listID = try await makeList(api, fixture, name: "Everyone", contacts)
        return try await api.typed(fixture.keys[.clientUser]).createCampaign(
            path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(name: "Reminders", listId: listID, template: "Hi {{first_name}}, your appointment is tomorrow."))
        ).created.body.json
    }

    /// Every recipient, page by page: 1,000 delivered, the four skipped with their reasons, and
    /// the credits they were charged adding up to the campaign's.
    func expectRecipients(_ api: API, campaignID: ObjectID, key user: String) async throws {
        var recipients: [Components.Schemas.Recipient] = []
        var cursor: String?
        repeat {
            let page = try await api.typed(user).listCampaignRecipients(
                path: .init(id: campaignID), query: .init(limit: 500, cursor: cursor)
            ).ok.body.json
            recipients += page.items
            cursor = page.nextCursor
        } while cursor != nil
        #expect(recipients.count == 1_004)
        #expect(recipients.filter { $0.status == "delivered" }.count == 1_000)
        let skipped = recipients.filter { $0.status == "skipped" }.compactMap(\.reason)
        #expect(skipped == [
            "no mobile number", "no SMS consent", "opted out", "duplicate number: sent to an earlier contact",
        ])
        let credits = recipients.map(\.credits).reduce(0, +)
        #expect(credits == 1_300)
    }
}
