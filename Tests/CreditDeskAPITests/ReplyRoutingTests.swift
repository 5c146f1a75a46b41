import CreditDeskContract
import CreditDeskCore
import CreditDeskGateway
import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskServices

/// Replies forwarded to the agent who last wrote to the customer. In the messaging suite, so it
/// runs serialized with the other live-daemon tests.
extension MessagingTests {
    @Test("replies are forwarded to the last writer: by email through SMTP, by SMS abroad, by email only to NZ mobiles")
    func replyRouting() async throws {
        let sink = try SMTPSink()
        defer { sink.stop() }
        let mailer = SMTPMailer(url: sink.url, from: "replies@creditdesk.test")
        try await withMessaging(features: ["inbound", "international"], mailer: mailer) { api, fixture, pool, _ in
            let agent = fixture.keys[.clientUser]!, agentID = fixture.users[.clientUser]!.objectID
            let inbound = try inboundPath(try await connectTwilio(api, fixture))
            _ = try await api.typed(fixture.keys[.resellerAdmin]).setRate(
                path: .init(id: fixture.reseller.id.objectID, prefix: "61"), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(creditsPerSegment: 3))
            ).ok
            let customer = "+64217770000"
            // The agent wrote to the customer, so the customer's replies are the agent's.
            _ = try await send(api, fixture, key: agent, to: customer, "Hello").accepted
            func reply(_ sid: String, _ text: String) async throws -> String? {
                let form = "MessageSid=\(sid)&From=%2B64217770000&To=%2B6421000000&Body=\(text)"
                #expect(try await api.call(.post, inbound, key: nil, rawBody: form).status == .ok)
                for _ in 0..<100 {
                    let received = try await messages(api, fixture, direction: .inbound, key: agent)
                    if let routed = received.first(where: { $0.text == text })?.routedTo { return routed }
                    try await Task.sleep(for: .milliseconds(100))
                }
                Issue.record("reply \(text) was not routed")
                return nil
            }
            let routing = api.typed(agent)
            func route(_ change: Components.Schemas.SetReplyRouting, as actor: Client? = nil) async throws
                -> Endpoints.SetReplyRouting.Output
            {
                try await (actor ?? routing).setReplyRouting(
                    path: .init(id: agentID), headers: .init(idempotencyKey: freshKey()), body: .json(change))
            }
            // Nothing asked for: not routed at all.
            #expect(try await routing.getReplyRouting(path: .init(id: agentID)).ok.body.json.channel == Components.Schemas.ReplyChannel.none)

            let byEmail = try await route(.init(channel: .email, email: "agent@office.example")).ok.body.json
            #expect(byEmail.email == "agent@office.example")
            #expect(try await reply("SM10", "Thanks") == "email agent@office.example")
            let mail = try #require(sink.mails.first)
            #expect(mail.recipients == ["agent@office.example"] && mail.from == "replies@creditdesk.test")
            #expect(mail.data.contains("Subject: SMS reply from +64217770000") && mail.data.contains("Thanks"))

            // A New Zealand mobile gets replies by email only.
            _ = try await route(.init(channel: .mobile, mobile: "+64219998888", email: "agent@office.example")).ok
            #expect(try await reply("SM11", "Again") == "email agent@office.example")
            #expect(sink.mails.count == 2)

            // An Australian mobile gets the reply as an SMS, sent and charged like any other.
            let before = try await api.balance(fixture.client.id, .sms, key: agent)
            _ = try await route(.init(channel: .mobile, mobile: "+61412345678")).ok
            #expect(try await reply("SM12", "Call me")?.hasPrefix("mobile +61412345678") == true)
            let forward = try #require(try await messages(api, fixture, phone: "+61412345678", key: agent).first)
            #expect(forward.text == "Reply from +64217770000: Call me" && forward.credits == 3)
            #expect(try await api.balance(fixture.client.id, .sms, key: agent).available == before.available - 3)
            #expect(sink.mails.count == 2)

            // Bad input changes nothing; another reseller cannot see the user.
            #expect(try await route(.init(channel: .mobile)).badRequest.body.json.error.detail("field") == "mobile")
            let rival = try await api.typed(fixture.keys[.otherResellerAdmin]).getReplyRouting(path: .init(id: agentID))
            #expect(try rival.notFound.body.json.error.code == "not_found")
            try await verifyClean(pool)
        }
    }
}
