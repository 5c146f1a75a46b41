import Foundation

/// A phone number in E.164: `+`, a country calling code and the subscriber number, 8 to 15
/// digits in all, no leading zero. Stored and compared as this canonical text.
package struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    package let e164: String

    package var description: String { e164 }
    package var digits: Substring { e164.dropFirst() }

    /// Accepts spaces, dashes, dots and brackets as separators; anything else is refused, and
    /// so is a number without `+` (a national number cannot be routed unambiguously).
    package static func parse(_ text: String, field: String = "to") throws(DomainError) -> PhoneNumber {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard text.unicodeScalars.count <= maxLength else { throw .invalid(field, "must be at most \(maxLength) characters") }
        guard trimmed.hasPrefix("+") else {
            throw .invalid(field, "must be in international format: + and the country code, e.g. +64211234567")
        }
        var digits = ""
        for character in trimmed.dropFirst() {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if !" -.()".contains(character) {
                throw .invalid(field, "may contain only digits after the +")
            }
        }
        guard (8...15).contains(digits.count), digits.first != "0" else {
            throw .invalid(field, "must have 8 to 15 digits after the + and not start with 0")
        }
        return PhoneNumber(e164: "+" + digits)
    }

    /// The longest text accepted as a number, separators included.
    package static let maxLength = 40

    package init(e164: String) { self.e164 = e164 }

    package func hasPrefix(_ callingCodePrefix: String) -> Bool { digits.hasPrefix(callingCodePrefix) }
}

/// How a text travels as SMS: its encoding and the number of parts (segments) it takes.
package struct SegmentCount: Sendable, Equatable {
    package enum Encoding: String, Sendable { case gsm7 = "gsm7", ucs2 = "ucs2" }
    package let encoding: Encoding
    package let segments: Int
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) the text occupies.
    package let units: Int
}

/// SMS segment counting: GSM-7 with the extension table counted double, 160
/// per single message and 153 per part; otherwise UCS-2, 70 and 67.
package enum Segmenter {
    /// The GSM 03.38 alphabet, one septet each; the console's compose script counts with it too.
    package static let basicAlphabet =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    /// Characters of the extension table: two septets each.
    package static let extendedAlphabet = "^{}\\[~]|€\u{0C}"
    static let basic: Set<Character> = Set(basicAlphabet.map { $0 })
    static let extended: Set<Character> = Set(extendedAlphabet.map { $0 })

    package static func count(_ text: String) -> SegmentCount {
        var septets = 0
        var isGSM = true
        // "\r\n" is one Character in Swift but two septets on the air.
        for scalar in text.unicodeScalars {
            let character = Character(scalar)
            if basic.contains(character) {
                septets += 1
            } else if extended.contains(character) {
                septets += 2
            } else {
                isGSM = false
                break
            }
        }
        if isGSM {
            let segments = septets == 0 ? 1 : (septets <= 160 ? 1 : (septets + 152) / 153)
            return SegmentCount(encoding: .gsm7, segments: segments, units: septets)
        }
        let units = text.utf16.count
        let segments = units == 0 ? 1 : (units <= 70 ? 1 : (units + 66) / 67)
        return SegmentCount(encoding: .ucs2, segments: segments, units: units)
    }
}

/// What an inbound text asks for, by the industry keywords (case-insensitive, trimmed).
package enum OptKeyword: Sendable, Equatable {
    case optOut, optIn

    static let optOutWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
    static let optInWords: Set<String> = ["START", "UNSTOP"]

    package static func parse(_ text: String) -> OptKeyword? {
        let word = text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        if optOutWords.contains(word) { return .optOut }
        if optInWords.contains(word) { return .optIn }
        return nil
    }
}

package enum MessageDirection: String, Codable, Sendable, CaseIterable { case outbound, inbound }

package enum MessageStatus: String, Codable, Sendable, CaseIterable {
    case scheduled, queued, sent, delivered, failed, cancelled, received
}

package enum GatewayProvider: String, Codable, Sendable, CaseIterable { case kannel, twilio }

/// The credits a message costs and which unit pays.
package struct MessagePrice: Sendable, Equatable {
    package let unit: CreditUnit
    package let segments: Int
    package let credits: Int64
}

package enum MessagePricing {
    /// Limits on what one message may be.
    package static let maxSegments = 10
    package static let maxMediaURLs = 10

    /// An SMS costs its segments times the destination's rate; an MMS costs one MMS credit
    /// (the text rides along), whatever its length.
    package static func price(text: String, mediaCount: Int, creditsPerSegment: Int64) throws(DomainError) -> MessagePrice {
        if mediaCount > 0 {
            guard mediaCount <= maxMediaURLs else { throw .invalid("media_urls", "at most \(maxMediaURLs) media URLs") }
            return MessagePrice(unit: .mms, segments: 1, credits: 1)
        }
        guard !text.isEmpty else { throw .invalid("text", "must not be empty") }
        let count = Segmenter.count(text)
        guard count.segments <= maxSegments else {
            throw .invalid("text", "is \(count.segments) segments long; at most \(maxSegments) are sent")
        }
        return MessagePrice(unit: .sms, segments: count.segments, credits: Int64(count.segments) * creditsPerSegment)
    }
}

/// Per-message callback signatures: HMAC-free but unforgeable without the stored token hash,
/// which never leaves the database: sha256(token hash ‖ gateway id ‖ message id).
package enum CallbackSignature {
    package static func sign(messageID: UUID, gatewayID: UUID, key: [UInt8]) -> String {
        Digest.hex(Digest.sha256(key + Array("\(gatewayID.uuidString.lowercased()) \(messageID.uuidString.lowercased())".utf8)))
    }
}

/// How far a campaign has come, from its messages by status and how many the gateway took in
/// the last `window` seconds: the rate, and when the rest will have gone at it.
package struct CampaignProgress: Sendable, Equatable {
    package let sent: Int
    package let delivered: Int
    package let failed: Int
    package let cancelled: Int
    package let remaining: Int
    package let perSecond: Double
    package let estimatedFinish: Date?

    package init(counts: [String: Int], acceptedRecently: Int, window: Double, now: Date) {
        func count(_ status: MessageStatus) -> Int { counts[status.rawValue] ?? 0 }
        delivered = count(.delivered)
        sent = count(.sent) + delivered
        failed = count(.failed)
        cancelled = count(.cancelled)
        remaining = count(.queued) + count(.scheduled)
        perSecond = window > 0 ? Double(acceptedRecently) / window : 0
        estimatedFinish = remaining > 0 && perSecond > 0 ? now.addingTimeInterval(Double(remaining) / perSecond) : nil
    }
}
