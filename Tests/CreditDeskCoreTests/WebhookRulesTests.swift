import CreditDeskCore
import Foundation
import Testing

/// The pure rules of webhooks: the signature (against a vector computed by Python's hmac and
/// by openssl, as the README's snippets do), where an endpoint may point, the retry schedule.
@Suite("Webhook rules")
struct WebhookRulesTests {
    @Test("the signature is HMAC-SHA256 over timestamp.body, as openssl and Python compute it")
    func signatureVector() {
        let body = Array(#"{"id":"e1","type":"credits.changed"}"#.utf8)
        let signature = WebhookSignature.sign(secret: "whsec_test", timestamp: 1_733_600_000, body: body)
        #expect(signature == "v1=8915173be8a09d0ba86fe05c85577c90082fe2d05f638c70737818536faa395d")
        let then = Date(timeIntervalSince1970: 1_733_600_100)
        #expect(WebhookSignature.verify(secret: "whsec_test", timestamp: "1733600000", signature: signature, body: body, now: then))
        #expect(!WebhookSignature.verify(secret: "whsec_test", timestamp: "1733600000", signature: signature, body: body + [32], now: then))
        #expect(!WebhookSignature.verify(secret: "whsec_test", timestamp: "1733600000", signature: signature, body: body, now: then.addingTimeInterval(300)))
        #expect(!WebhookSignature.verify(secret: "whsec_test", timestamp: "17336e5", signature: signature, body: body, now: then))
    }

    @Test("endpoints point at public hosts over http or https, without credentials; private ones only when allowed")
    func targets() throws {
        let public_ = try WebhookTarget.parse("https://crm.example.com:8443/hooks?x=1", allowPrivate: false)
        #expect(public_.host == "crm.example.com" && public_.port == 8443)
        #expect(try WebhookTarget.parse("http://8.8.8.8/h", allowPrivate: false).port == 80)
        for url in ["http://127.0.0.1/", "http://localhost:8080/", "http://printer.local/", "http://10.0.0.1/", "http://172.20.1.1/",
                    "http://192.168.1.1/", "http://169.254.169.254/", "http://100.64.0.1/", "http://0.0.0.0/"] {
            #expect(throws: DomainError.self, "\(url)") { try WebhookTarget.parse(url, allowPrivate: false) }
            #expect(try WebhookTarget.parse(url, allowPrivate: true).url == url)
        }
        for url in ["ftp://example.com/", "http://user:pw@example.com/", "https://example.com/#x", "http://exa mple.com/",
                    "http://[::1]/", "http://example.com:0/", "http://example.com:70000/", "http://-bad.example/", "https://"] {
            #expect(throws: DomainError.self, "\(url)") { try WebhookTarget.parse(url, allowPrivate: true) }
        }
        #expect(PublicAddress.isPublic("2606:4700::1111") && !PublicAddress.isPublic("fe80::1") && !PublicAddress.isPublic("::ffff:10.0.0.1"))
        #expect(!PublicAddress.isPublic("fd00::1") && !PublicAddress.isPublic("not an address"))
    }

    @Test("retries double from the first delay to the cap, and stop when the event is older than the window")
    func retrySchedule() {
        let policy = WebhookRetryPolicy.standard
        #expect((1...9).map { policy.delaySeconds(afterAttempt: $0) } == [10, 20, 40, 80, 160, 320, 640, 1_280, 2_560])
        #expect(policy.delaySeconds(afterAttempt: 10) == 3_600 && policy.delaySeconds(afterAttempt: 1_000) == 3_600)
        let created = Date(timeIntervalSince1970: 0)
        #expect(policy.nextAttempt(afterAttempt: 1, eventCreatedAt: created, now: created) == Date(timeIntervalSince1970: 10))
        #expect(policy.nextAttempt(afterAttempt: 30, eventCreatedAt: created, now: Date(timeIntervalSince1970: 82_801)) == nil)
        #expect(policy.nextAttempt(afterAttempt: 30, eventCreatedAt: created, now: Date(timeIntervalSince1970: 82_800)) != nil)
    }
}
