import Foundation

/// Input checks shared by the API and the CLI. Each throws `invalid_request` naming the field.
package enum Validate {
    package static func name(_ value: String, field: String = "name") throws(DomainError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .invalid(field, "must not be empty") }
        // Counted as the contract counts (code points, before trimming).
        guard value.unicodeScalars.count <= Limits.maxNameLength else {
            throw .invalid(field, "must be at most \(Limits.maxNameLength) characters")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field, "must not contain control characters")
        }
        return trimmed
    }

    package static func reason(_ value: String?, required: Bool) throws(DomainError) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if trimmed.isEmpty {
            if required { throw .invalid("reason", "is required for this operation") }
            return nil
        }
        guard (value ?? "").unicodeScalars.count <= Limits.maxReasonLength else {
            throw .invalid("reason", "must be at most \(Limits.maxReasonLength) characters")
        }
        return trimmed
    }

    package static func reference(_ value: String?, field: String = "reference") throws(DomainError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        guard value.unicodeScalars.count <= Limits.maxReferenceLength else {
            throw .invalid(field, "must be at most \(Limits.maxReferenceLength) characters")
        }
        return value
    }

    /// An http or https URL: after the scheme, 1 to 490 code points, none a space or an ASCII
    /// control (gateway addresses, media). The contract's pattern says the same.
    package static func httpURL(_ value: String, field: String) throws(DomainError) -> String {
        // Code points, not Characters: a combining mark after the scheme must not hide it.
        let scalars = Array(value.unicodeScalars)
        let scheme = ["https://", "http://"].first { scalars.starts(with: $0.unicodeScalars) }
        let rest = scheme.map { scalars.dropFirst($0.unicodeScalars.count) }
        guard let rest, (1...490).contains(rest.count), rest.allSatisfy(isVisible) else {
            throw .invalid(field, "must be an http or https URL")
        }
        return value
    }

    /// Neither a space nor an ASCII control character.
    static func isVisible(_ scalar: Unicode.Scalar) -> Bool { scalar.value > 0x20 && scalar.value != 0x7f }

    /// A positive amount of credits, within the per-operation limit.
    package static func amount(_ value: Int64, field: String = "amount") throws(DomainError) -> Int64 {
        guard value > 0 else { throw .invalid(field, "must be a positive whole number of credits") }
        guard value <= Limits.maxAmount else { throw .invalid(field, "must be at most \(Limits.maxAmount)") }
        return value
    }

    /// A signed, non-zero adjustment.
    package static func delta(_ value: Int64) throws(DomainError) -> Int64 {
        guard value != 0 else { throw .invalid("amount", "must not be zero (positive adds, negative removes)") }
        guard value.magnitude <= UInt64(Limits.maxAmount) else {
            throw .invalid("amount", "must be between -\(Limits.maxAmount) and \(Limits.maxAmount)")
        }
        return value
    }

    /// A new password: long enough to resist guessing. Counted in code points, as the contract
    /// counts.
    package static func password(_ value: String) throws(DomainError) -> String {
        guard value.unicodeScalars.count >= Limits.minPasswordLength else {
            throw .invalid("password", "must be at least \(Limits.minPasswordLength) characters")
        }
        guard value.unicodeScalars.count <= Limits.maxPasswordLength else {
            throw .invalid("password", "must be at most \(Limits.maxPasswordLength) characters")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("password", "must not contain control characters")
        }
        return value
    }

    package static func email(_ value: String?) throws(DomainError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        // One @ between a local part and a domain with a dot inside it; no spaces or controls.
        // Counted in scalars, as the contract's pattern is: as characters, a dot followed by a
        // combining mark or an emoji modifier is one character that is not ".".
        let scalars = value.unicodeScalars
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard scalars.count <= 320, scalars.allSatisfy(isVisible), parts.count == 2,
            !parts[0].isEmpty, parts[1].dropFirst().dropLast().contains(".")
        else { throw .invalid("email", "is not an email address") }
        return value
    }

    package static func currency(_ value: String) throws(DomainError) -> String {
        guard value.wholeMatch(of: /[A-Z]{3}/) != nil else {
            throw .invalid("currency", "must be an ISO 4217 code in capitals, e.g. EUR")
        }
        return value
    }

    package static func pageSize(_ value: Int?) throws(DomainError) -> Int {
        guard let value else { return Limits.defaultPageSize }
        guard (1...Limits.maxPageSize).contains(value) else {
            throw .invalid("limit", "must be between 1 and \(Limits.maxPageSize)")
        }
        return value
    }

    /// Idempotency keys: 1–255 visible ASCII characters.
    package static func idempotencyKey(_ value: String?) throws(DomainError) -> String {
        guard let value, !value.isEmpty else {
            throw DomainError(.idempotencyKeyRequired, "this request changes data: send an Idempotency-Key header")
        }
        guard value.count <= 255, value.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue! >= 0x21 }) else {
            throw .invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        }
        return value
    }
}

/// Prices as people type them.
package enum Money {
    /// "12", "12.5" or "12.50" (a point or a comma) as minor units: 1200, 1250, 1250.
    package static func minorUnits(_ text: String, field: String) throws(DomainError) -> Int64 {
        let text = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        guard let match = text.wholeMatch(of: /([0-9]{1,10})(?:\.([0-9]{1,2}))?/) else {
            throw .invalid(field, "must be an amount such as 12.50")
        }
        let whole = Int64(match.1)!
        let fraction = match.2.map { $0.count == 1 ? Int64($0)! * 10 : Int64($0)! } ?? 0
        return whole * 100 + fraction
    }
}
