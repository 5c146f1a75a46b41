import Foundation

/// The phone fields a contact has; a client configures the order in which an inbound reply's
/// number is looked up among them.
package enum ContactPhoneField: String, Codable, Sendable, CaseIterable {
    case mobile
    case workPhone = "work_phone"
    case homePhone = "home_phone"

    package static let defaultReplyMatchOrder: [ContactPhoneField] = [.mobile, .workPhone, .homePhone]

    /// A match order: one to three distinct fields.
    package static func matchOrder(_ names: [String]) throws(DomainError) -> [ContactPhoneField] {
        var order: [ContactPhoneField] = []
        for name in names {
            guard let field = ContactPhoneField(rawValue: name) else {
                throw .invalid("reply_match_order", "\(name) is not one of mobile, work_phone, home_phone")
            }
            guard !order.contains(field) else { throw .invalid("reply_match_order", "\(name) appears twice") }
            order.append(field)
        }
        guard !order.isEmpty else { throw .invalid("reply_match_order", "must name at least one field") }
        return order
    }
}

/// A campaign text with per-recipient fields: `{{first_name}}`, `{{last_name}}`. Unknown
/// placeholders are refused when the campaign is created, not sent as typed.
package struct MessageTemplate: Sendable, Equatable {
    package static let fields: Set<String> = ["first_name", "last_name"]

    /// A template is literal text and `{{ field }}` placeholders.
    enum Part: Sendable, Equatable {
        case literal(String)
        case field(String)
    }

    package let text: String
    /// Parsed once: a campaign renders the template for every recipient (a regex per render
    /// was half of confirming 50,000).
    let parts: [Part]

    package init(_ text: String) throws(DomainError) {
        guard !text.isEmpty, text.count <= 2000 else { throw .invalid("template", "must be 1 to 2000 characters") }
        let parts = Self.parse(text)
        for case .field(let name) in parts where !Self.fields.contains(name) {
            throw .invalid("template", "unknown placeholder {{\(name)}}; use {{first_name}} or {{last_name}}")
        }
        self.text = text
        self.parts = parts
    }

    /// The text for one recipient; a missing field renders empty.
    package func render(_ values: [String: String]) -> String {
        var rendered = ""
        rendered.reserveCapacity(text.utf8.count + 16)
        for part in parts {
            switch part {
            case .literal(let literal): rendered += literal
            case .field(let name): rendered += values[name] ?? ""
            }
        }
        return rendered
    }

    /// A placeholder is `{{`, a name without `}` (surrounding white space trimmed), `}}`; a
    /// `{{` that does not start one is text.
    static func parse(_ text: String) -> [Part] {
        var parts: [Part] = []
        var literal = ""
        var rest = text[...]
        while let open = rest.firstRange(of: "{{") {
            let inside = rest[open.upperBound...]
            guard let close = inside.firstIndex(of: "}"), inside[inside.index(after: close)...].hasPrefix("}") else {
                let next = rest.index(after: open.lowerBound)
                literal += rest[..<next]
                rest = rest[next...]
                continue
            }
            literal += rest[..<open.lowerBound]
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(.field(inside[..<close].trimmingCharacters(in: .whitespacesAndNewlines)))
            rest = inside[inside.index(close, offsetBy: 2)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return parts
    }
}

/// A reseller's per-segment rates by destination prefix: the longest matching prefix wins.
package struct RateTable: Sendable {
    let rates: [String: Int64]
    let longest: Int

    package init(_ rates: [String: Int64]) {
        self.rates = rates
        longest = rates.keys.map(\.count).max() ?? 0
    }

    /// Every prefix and its rate, shortest prefix first.
    package var entries: [(prefix: String, creditsPerSegment: Int64)] {
        rates.sorted { ($0.key.count, $0.key) < ($1.key.count, $1.key) }.map { ($0.key, $0.value) }
    }

    /// The rate set for exactly this prefix (not a shorter one that covers it).
    package func credits(exactly prefix: String) -> Int64? { rates[prefix] }

    package func rate(for number: PhoneNumber) -> Int64? {
        let digits = number.digits
        for length in stride(from: min(longest, digits.count), through: 1, by: -1) {
            if let rate = rates[String(digits.prefix(length))] { return rate }
        }
        return nil
    }
}

/// Where a user wants replies to their messages forwarded.
package enum ReplyChannel: String, Codable, Sendable, CaseIterable {
    case none, email, mobile
}

/// Where one reply goes, after the per-country rule.
package enum ReplyDestination: Sendable, Equatable {
    case email(String)
    case mobile(PhoneNumber)
    case nowhere(reason: String)
}

/// The routing rule: the user's choice, except that forwarding to a mobile in an email-only
/// country (by calling code, e.g. 64 for New Zealand) goes to the user's email instead.
package struct ReplyRoutingRule: Sendable, Equatable {
    package let emailOnlyCallingCodes: Set<String>

    package static let `default` = ReplyRoutingRule(emailOnlyCallingCodes: ["64"])

    package init(emailOnlyCallingCodes: Set<String>) { self.emailOnlyCallingCodes = emailOnlyCallingCodes }

    /// "64,61" → {64, 61}; each a calling code of 1 to 4 digits.
    package static func parse(_ text: String) throws(DomainError) -> ReplyRoutingRule {
        var codes = Set<String>()
        for part in text.split(separator: ",") {
            let code = part.trimmingCharacters(in: .whitespaces)
            guard code.wholeMatch(of: /[1-9][0-9]{0,3}/) != nil else {
                throw .invalid("email_only_countries", "\(code) is not a calling code (1 to 4 digits)")
            }
            codes.insert(code)
        }
        return ReplyRoutingRule(emailOnlyCallingCodes: codes)
    }

    package func destination(channel: ReplyChannel, email: String?, mobile: PhoneNumber?) -> ReplyDestination {
        switch channel {
        case .none:
            return .nowhere(reason: "the user does not forward replies")
        case .email:
            return email.map(ReplyDestination.email) ?? .nowhere(reason: "the user has no email address")
        case .mobile:
            guard let mobile else { return .nowhere(reason: "the user has no mobile number") }
            if let code = emailOnlyCallingCodes.first(where: { mobile.hasPrefix($0) }) {
                return email.map(ReplyDestination.email)
                    ?? .nowhere(reason: "replies to +\(code) numbers go by email only, and the user has no email address")
            }
            return .mobile(mobile)
        }
    }
}
