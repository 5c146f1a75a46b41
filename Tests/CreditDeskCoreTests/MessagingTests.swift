@testable import CreditDeskCore
import Foundation
import Testing

@Suite("Messaging rules")
struct MessagingTests {
    @Test("GSM-7 counts 160 single and 153 per part; the extension table counts double")
    func gsmSegments() {
        #expect(Segmenter.count(String(repeating: "a", count: 160)) == SegmentCount(encoding: .gsm7, segments: 1, units: 160))
        #expect(Segmenter.count(String(repeating: "a", count: 161)).segments == 2)
        #expect(Segmenter.count(String(repeating: "a", count: 306)).segments == 2)
        #expect(Segmenter.count(String(repeating: "a", count: 307)).segments == 3)
        // 80 euro signs are 160 septets: still one message; one more character makes two.
        #expect(Segmenter.count(String(repeating: "€", count: 80)) == SegmentCount(encoding: .gsm7, segments: 1, units: 160))
        #expect(Segmenter.count(String(repeating: "€", count: 80) + "a").segments == 2)
        #expect(Segmenter.count("line\r\nbreak").units == 11)
        #expect(Segmenter.count("").segments == 1)
    }

    @Test("anything outside GSM-7 makes the whole text UCS-2: 70 single, 67 per part")
    func ucs2Segments() {
        #expect(Segmenter.count(String(repeating: "ä", count: 10) + "ł").encoding == .ucs2)
        #expect(Segmenter.count(String(repeating: "ł", count: 70)) == SegmentCount(encoding: .ucs2, segments: 1, units: 70))
        #expect(Segmenter.count(String(repeating: "ł", count: 71)).segments == 2)
        #expect(Segmenter.count(String(repeating: "ł", count: 134)).segments == 2)
        #expect(Segmenter.count(String(repeating: "ł", count: 135)).segments == 3)
        // An emoji is two UTF-16 units.
        #expect(Segmenter.count("😀").units == 2)
    }

    @Test("numbers must be international; separators are tolerated, letters are not")
    func phoneNumbers() throws {
        #expect(try PhoneNumber.parse("+64 21 123-4567").e164 == "+64211234567")
        #expect(throws: DomainError.self) { try PhoneNumber.parse("021 123 4567") }
        #expect(throws: DomainError.self) { try PhoneNumber.parse("+64 21 CALL ME") }
        #expect(throws: DomainError.self) { try PhoneNumber.parse("+0123456789") }
        #expect(throws: DomainError.self) { try PhoneNumber.parse("+1234567") }
        #expect(throws: DomainError.self) { try PhoneNumber.parse("+1234567890123456") }
        do {
            _ = try PhoneNumber.parse("0211234567")
        } catch {
            #expect(error.message.contains("international format"))
        }
    }

    @Test("opt-out and opt-in keywords, case-insensitive and trimmed; other text is neither")
    func keywords() {
        for word in ["STOP", " stop ", "StopAll", "unsubscribe", "CANCEL", "end\n", "Quit"] {
            #expect(OptKeyword.parse(word) == .optOut, "\(word)")
        }
        #expect(OptKeyword.parse("start") == .optIn && OptKeyword.parse(" UNSTOP") == .optIn)
        #expect(OptKeyword.parse("please stop") == nil && OptKeyword.parse("") == nil)
    }

    @Test("prices: SMS segments times the rate, MMS one MMS credit, limits enforced")
    func pricing() throws {
        #expect(try MessagePricing.price(text: String(repeating: "a", count: 200), mediaCount: 0, creditsPerSegment: 3)
            == MessagePrice(unit: .sms, segments: 2, credits: 6))
        #expect(try MessagePricing.price(text: "photo", mediaCount: 2, creditsPerSegment: 3)
            == MessagePrice(unit: .mms, segments: 1, credits: 1))
        #expect(throws: DomainError.self) { try MessagePricing.price(text: "", mediaCount: 0, creditsPerSegment: 1) }
        #expect(throws: DomainError.self) {
            try MessagePricing.price(text: String(repeating: "a", count: 153 * 10 + 1), mediaCount: 0, creditsPerSegment: 1)
        }
    }

    @Test("AES-256-GCM: round trip; another key, tampered bytes or other associated data do not open")
    func secretBox() throws {
        let box = try SecretBox(encodedKey: SecretBox.generateKey())
        let other = try SecretBox(encodedKey: SecretBox.generateKey())
        let sealed = box.seal(Array("s3cret password".utf8), associatedData: Array("gateway-1".utf8))
        #expect(box.open(sealed, associatedData: Array("gateway-1".utf8)) == Array("s3cret password".utf8))
        #expect(box.open(sealed, associatedData: Array("gateway-2".utf8)) == nil)
        #expect(other.open(sealed, associatedData: Array("gateway-1".utf8)) == nil)
        var tampered = sealed
        tampered[14] ^= 1
        #expect(box.open(tampered, associatedData: Array("gateway-1".utf8)) == nil)
        // The same plaintext seals differently each time (random nonce).
        #expect(box.seal(Array("x".utf8), associatedData: []) != box.seal(Array("x".utf8), associatedData: []))
        #expect(box.open(box.seal([], associatedData: []), associatedData: []) == [])
        #expect(throws: DomainError.self) { try SecretBox(key: [1, 2, 3]) }
    }
}

@Suite("Campaign progress")
struct CampaignProgressTests {
    @Test("sent counts delivered ones; remaining is what has not gone; the finish follows the last minute's rate")
    func progress() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let running = CampaignProgress(
            counts: ["queued": 500, "scheduled": 100, "sent": 200, "delivered": 300, "failed": 7, "cancelled": 2],
            acceptedRecently: 1_200, window: 60, now: now)
        #expect(running.sent == 500 && running.delivered == 300 && running.failed == 7 && running.cancelled == 2)
        #expect(running.remaining == 600 && running.perSecond == 20)
        #expect(running.estimatedFinish == now.addingTimeInterval(30))
        let stalled = CampaignProgress(counts: ["queued": 5], acceptedRecently: 0, window: 60, now: now)
        #expect(stalled.perSecond == 0 && stalled.estimatedFinish == nil)
        let done = CampaignProgress(counts: ["delivered": 10], acceptedRecently: 10, window: 60, now: now)
        #expect(done.remaining == 0 && done.estimatedFinish == nil)
    }
}
