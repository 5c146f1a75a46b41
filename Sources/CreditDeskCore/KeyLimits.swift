import Foundation

/// What an API key may do, within what its user may: `full` (everything the user may),
/// `send` (read, and send: messages, campaigns, contacts), `read` (read only). The contract
/// lists, per operation, the scopes it accepts (`x-key-scopes`).
package enum KeyScope: String, Sendable, CaseIterable, Codable {
    case full, send, read

    /// Whether a key of this scope may create a key of `other`'s: never a wider one.
    package func covers(_ other: KeyScope) -> Bool {
        switch (self, other) {
        case (.full, _), (.send, .send), (.send, .read), (.read, .read): true
        case (.send, .full), (.read, .full), (.read, .send): false
        }
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`; a bare address
/// is a /32 or /128). Host bits are cleared, so `10.1.2.3/8` is `10.0.0.0/8`.
package struct AddressRange: Sendable, Equatable, Hashable, CustomStringConvertible {
    package let network: [UInt8]
    package let prefixLength: Int

    /// What a range written in a request looks like (the contract's pattern, the same text):
    /// dotted decimal without leading zeros or an IPv6 address without a zone or embedded
    /// IPv4, each with an optional prefix length. Trusted-proxy settings use it too.
    package static let pattern = "^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
    nonisolated(unsafe) static let written = try! Regex(pattern)

    /// A range as a request or a setting writes it; nil unless it matches `pattern`.
    package init?(written text: String) {
        guard text.utf8.count <= 49, text.wholeMatch(of: Self.written) != nil else { return nil }
        self.init(text)
    }

    package init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.address(String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard let given = Int(parts[1]), parts[1].allSatisfy(\.isASCII), (0...bits).contains(given) else {
                return nil
            }
            length = given
        }
        network = Self.masked(bytes, length)
        prefixLength = length
    }

    /// Whether `address` (text, as the peer or a trusted proxy gives it) lies in this range.
    package func contains(_ address: String) -> Bool {
        guard let bytes = Self.address(address), bytes.count == network.count else { return false }
        return Self.masked(bytes, prefixLength) == network
    }

    /// Whether every address of `other` lies in this range.
    package func contains(_ other: AddressRange) -> Bool {
        other.network.count == network.count && other.prefixLength >= prefixLength
            && Self.masked(other.network, prefixLength) == network
    }

    package var description: String {
        if network.count == 4 { return network.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: network) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count))
        let written = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: written, as: UTF8.self) + "/\(prefixLength)"
    }

    static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(max(length - index * 8, 0), 8)
            return kept == 8 ? byte : byte & ~(UInt8(0xFF) >> kept)
        }
    }

    /// The address's bytes: 4 for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address counts as IPv4).
    static func address(_ text: String) -> [UInt8]? {
        var storage4 = in_addr(), storage6 = in6_addr()
        if text.contains(":") {
            let host = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
            guard inet_pton(AF_INET6, host, &storage6) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &storage6) { Array($0) }
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            return mapped ? Array(bytes.suffix(4)) : bytes
        }
        guard inet_pton(AF_INET, text, &storage4) == 1 else { return nil }
        return withUnsafeBytes(of: &storage4) { Array($0) }
    }
}

/// The limits a key carries on top of its scope: where it may be used from (no ranges:
/// anywhere) and until when (nil: no expiry).
package struct KeyLimits: Sendable, Equatable {
    package var scope: KeyScope
    package var allowedAddresses: [AddressRange]
    package var expiresAt: Date?

    package static let maxAddressRanges = 20
    package static let unrestricted = KeyLimits(scope: .full, allowedAddresses: [], expiresAt: nil)

    package init(scope: KeyScope, allowedAddresses: [AddressRange], expiresAt: Date?) {
        self.scope = scope
        self.allowedAddresses = allowedAddresses
        self.expiresAt = expiresAt
    }

    /// Parses what a request gives: CIDR strings, a future expiry.
    package static func parse(scope: KeyScope, addresses: [String], expiresAt: Date?, now: Date = Date())
        throws(DomainError) -> KeyLimits
    {
        guard addresses.count <= maxAddressRanges else {
            throw DomainError.invalid("allowed_addresses", "at most \(maxAddressRanges) ranges")
        }
        var ranges: [AddressRange] = []
        for (index, text) in addresses.enumerated() {
            guard let range = AddressRange(written: text) else {
                throw DomainError.invalid("allowed_addresses[\(index)]", "must be an IPv4 or IPv6 address or CIDR range")
            }
            if !ranges.contains(range) { ranges.append(range) }
        }
        // Well formed, but the clock has passed it: a conflict with the present, like a send time too far ahead.
        if let expiresAt, expiresAt <= now { throw DomainError.beyondState("expires_at", "must be in the future") }
        return KeyLimits(scope: scope, allowedAddresses: ranges, expiresAt: expiresAt)
    }

    /// Whether a request from `address` may use the key.
    package func admits(_ address: String?) -> Bool {
        allowedAddresses.isEmpty || address.map { address in allowedAddresses.contains { $0.contains(address) } } ?? false
    }

    /// A key made through a key with these limits gets no more than they allow: no wider
    /// scope, no address outside them, no later expiry.
    package func check(creating other: KeyLimits) throws(DomainError) {
        guard scope.covers(other.scope) else {
            throw DomainError(.forbidden, "a \(scope.rawValue) key cannot create a \(other.scope.rawValue) key")
        }
        if !allowedAddresses.isEmpty {
            guard !other.allowedAddresses.isEmpty,
                other.allowedAddresses.allSatisfy({ range in allowedAddresses.contains { $0.contains(range) } })
            else {
                throw DomainError(
                    .forbidden, "a key limited to some addresses can only create keys limited to addresses within them",
                    details: ["field": .string("allowed_addresses")])
            }
        }
        if let expiresAt, other.expiresAt.map({ $0 > expiresAt }) ?? true {
            throw DomainError(
                .forbidden, "a key that expires can only create keys that expire no later",
                details: ["field": .string("expires_at")])
        }
    }
}

/// The address a request comes from: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one (proxies append, so the rightmost
/// untrusted entry is the one no client could forge). Without trusted proxies the header is
/// ignored.
package enum ClientAddress {
    package static func resolve(peer: String?, forwardedFor: String?, trustedProxies: [AddressRange]) -> String? {
        guard let peer else { return nil }
        guard !trustedProxies.isEmpty, trustedProxies.contains(where: { $0.contains(peer) }), let forwardedFor else {
            return peer
        }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard AddressRange.address(hop) != nil else { return peer }
            if !trustedProxies.contains(where: { $0.contains(hop) }) { return hop }
        }
        return hops.first ?? peer
    }
}
