import Foundation

/// What an endpoint can subscribe to (sql/0020_webhooks.sql says what writes each).
package enum WebhookEventType: String, Sendable, CaseIterable, Codable {
    case messageStatus = "message.status"
    case messageInbound = "message.inbound"
    case campaignFinished = "campaign.finished"
    case balanceLow = "balance.low"
    case balanceRecovered = "balance.recovered"
    case creditsChanged = "credits.changed"
}

/// Where a webhook may point: an http or https URL with a host, no credentials in it and no
/// fragment; unless the operator allows it, no loopback, link-local, private or otherwise
/// non-public address (a literal one, or a name such as `localhost`; names are resolved and
/// checked again at each delivery, so DNS cannot point them inside later).
package struct WebhookTarget: Sendable, Equatable {
    package let url: String
    package let host: String
    package let port: Int

    /// The contract's `WebhookURL` pattern, the same text: a host name or IPv4 address, an
    /// optional port, path and query in RFC 3986 characters.
    package static let pattern = #"^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?]([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"#
    nonisolated(unsafe) static let written = try! Regex(pattern)

    package static func parse(_ text: String, allowPrivate: Bool) throws(DomainError) -> WebhookTarget {
        guard text.utf8.count <= 500, text.wholeMatch(of: written) != nil else {
            throw .invalid("url", "must be an http or https URL with a host name or IPv4 address, without credentials or fragment")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme), var host = components.host, !host.isEmpty
        else { throw .invalid("url", "must be an http or https URL with a host") }
        guard components.user == nil, components.password == nil else {
            throw .invalid("url", "must not carry a user name or password; authenticate with the signature")
        }
        guard components.fragment == nil else { throw .invalid("url", "must not have a fragment") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.lowercased()
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { throw .invalid("url", "has a port outside 1 to 65535") }
        if !allowPrivate {
            let local = host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".local")
            if local || (AddressRange(host) != nil && !PublicAddress.isPublic(host)) {
                throw .invalid("url", "points at a loopback, link-local or private address")
            }
        }
        return WebhookTarget(url: text, host: host, port: port)
    }
}

/// Whether an address is one a webhook may reach from the daemon: not loopback, private,
/// link-local, shared (CGNAT), multicast, reserved, or IPv4 mapped into IPv6.
package enum PublicAddress {
    static let nonPublic: [AddressRange] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "::ffff:0:0/96",
        "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { AddressRange($0) }

    package static func isPublic(_ address: String) -> Bool {
        guard AddressRange(address) != nil else { return false }
        return !nonPublic.contains { $0.contains(address) }
    }
}

/// An endpoint's settings as a request gives them, checked.
package struct WebhookSettings: Sendable, Equatable {
    package var url: String
    package var events: [WebhookEventType]
    package var description: String?
    package var maxConcurrency: Int
    package var enabled: Bool

    package init(url: String, events: [WebhookEventType], description: String?, maxConcurrency: Int = 4, enabled: Bool = true) {
        self.url = url
        self.events = events
        self.description = description
        self.maxConcurrency = maxConcurrency
        self.enabled = enabled
    }

    package func validated(allowPrivate: Bool) throws(DomainError) -> WebhookSettings {
        _ = try WebhookTarget.parse(url, allowPrivate: allowPrivate)
        guard !events.isEmpty else { throw .invalid("events", "must name at least one event") }
        guard (1...32).contains(maxConcurrency) else { throw .invalid("max_concurrency", "must be between 1 and 32") }
        if let description, description.count > 200 { throw .invalid("description", "at most 200 characters") }
        var settings = self
        settings.events = WebhookEventType.allCases.filter(events.contains)
        return settings
    }
}

/// The signature on each delivery: `CreditDesk-Signature: v1=<hex>` where the hex is
/// HMAC-SHA256(secret, timestamp + "." + body) and the timestamp (Unix seconds) is sent in
/// `CreditDesk-Timestamp`. Signed afresh at each attempt, so a retry is never stale; a
/// receiver refuses a timestamp more than `toleranceSeconds` away from its clock.
package enum WebhookSignature {
    package static let toleranceSeconds: Int64 = 300

    package static func sign(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "v1=" + Digest.hex(Digest.hmacSHA256(key: Array(secret.utf8), Array("\(timestamp).".utf8) + body))
    }

    package static func verify(secret: String, timestamp: String, signature: String, body: [UInt8], now: Date) -> Bool {
        guard let seconds = Int64(timestamp), abs(Int64(now.timeIntervalSince1970) - seconds) <= toleranceSeconds else {
            return false
        }
        return Digest.constantTimeEqual(Array(sign(secret: secret, timestamp: seconds, body: body).utf8), Array(signature.utf8))
    }

    /// A new signing secret (256 random bits), shown once.
    package static func newSecret() -> String { "whsec_" + SecureRandom.token() }
}

/// When a failed delivery is tried again: 10 s after the first attempt, doubling to at most an
/// hour, until the event is `windowSeconds` old (24 h); then the delivery has failed. An
/// endpoint whose every attempt has failed for `disableAfterSeconds` (24 h) is disabled.
package struct WebhookRetryPolicy: Sendable, Equatable {
    package var firstDelaySeconds: Double
    package var maxDelaySeconds: Double
    package var windowSeconds: Double
    package var disableAfterSeconds: Double

    package static let standard = WebhookRetryPolicy(
        firstDelaySeconds: 10, maxDelaySeconds: 3_600, windowSeconds: 86_400, disableAfterSeconds: 86_400)

    package init(firstDelaySeconds: Double, maxDelaySeconds: Double, windowSeconds: Double, disableAfterSeconds: Double) {
        self.firstDelaySeconds = firstDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.windowSeconds = windowSeconds
        self.disableAfterSeconds = disableAfterSeconds
    }

    /// The wait after the `attempts`-th failed attempt (1: the first).
    package func delaySeconds(afterAttempt attempts: Int) -> Double {
        min(maxDelaySeconds, firstDelaySeconds * pow(2, Double(max(0, min(attempts - 1, 30)))))
    }

    /// The next attempt's time, or nil when it would fall past the event's window (give up).
    package func nextAttempt(afterAttempt attempts: Int, eventCreatedAt: Date, now: Date) -> Date? {
        let next = now.addingTimeInterval(delaySeconds(afterAttempt: attempts))
        return next.timeIntervalSince(eventCreatedAt) <= windowSeconds ? next : nil
    }
}
