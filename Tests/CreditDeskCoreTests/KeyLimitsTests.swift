import CreditDeskCore
import Foundation
import Testing

@Suite("Key limits: address ranges, scopes, the forwarded client")
struct KeyLimitsTests {
    @Test("CIDR ranges of both families: parsing, host bits cleared, membership, containment")
    func ranges() throws {
        let office = try #require(AddressRange("203.0.113.77/24"))
        #expect(office.description == "203.0.113.0/24")
        #expect(office.contains("203.0.113.1") && office.contains("203.0.113.255") && !office.contains("203.0.114.1"))
        #expect(office.contains("::ffff:203.0.113.9"))  // IPv4-mapped IPv6 is the IPv4 address
        #expect(!office.contains("2001:db8::1") && !office.contains("unknown") && !office.contains(""))
        let host = try #require(AddressRange("198.51.100.7"))
        #expect(host.description == "198.51.100.7/32" && host.contains("198.51.100.7") && !host.contains("198.51.100.8"))
        let six = try #require(AddressRange("2001:DB8:abcd::1/48"))
        #expect(six.description == "2001:db8:abcd::/48")
        #expect(six.contains("2001:db8:abcd:ffff::1") && !six.contains("2001:db8:abce::1") && !six.contains("203.0.113.1"))
        #expect(six.contains("2001:db8:abcd::5%eth0"))
        let odd = try #require(AddressRange("10.0.0.0/13"))
        #expect(odd.contains("10.7.255.255") && !odd.contains("10.8.0.0"))
        #expect(AddressRange("0.0.0.0/0")?.contains("192.0.2.1") == true)
        #expect(office.contains(try #require(AddressRange("203.0.113.128/25"))))
        #expect(!office.contains(try #require(AddressRange("203.0.0.0/16"))))
        #expect(!office.contains(six))
        #expect(AddressRange(written: "2001:db8::/32") != nil && AddressRange(written: "203.0.113.0/24") != nil)
        for unwritten in ["fe80::1%eth0", "01.2.3.4", "::ffff:1.2.3.4", " 10.0.0.1", "10.0.0.1 "] {
            #expect(AddressRange(written: unwritten) == nil, "\(unwritten)")
        }
        for bad in ["", "300.1.1.1", "1.2.3", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/", "/8", "a.b.c.d",
                    "10.0.0.0/8/8", "::/١٢"] {
            #expect(AddressRange(bad) == nil, "\(bad)")
        }
    }

    @Test("a key's limits: parse, admit, and a key made through a limited key never exceeds it")
    func limits() throws {
        let now = Date()
        #expect(throws: DomainError.self) { try KeyLimits.parse(scope: .full, addresses: ["nope"], expiresAt: nil) }
        #expect(throws: DomainError.self) { try KeyLimits.parse(scope: .full, addresses: [], expiresAt: now.addingTimeInterval(-1), now: now) }
        #expect(throws: DomainError.self) {
            try KeyLimits.parse(scope: .full, addresses: Array(repeating: "10.0.0.1", count: 21), expiresAt: nil)
        }
        let limited = try KeyLimits.parse(scope: .send, addresses: ["10.0.0.0/8", "10.0.0.0/8"], expiresAt: now.addingTimeInterval(60), now: now)
        #expect(limited.allowedAddresses.count == 1)
        #expect(limited.admits("10.1.2.3") && !limited.admits("11.0.0.1") && !limited.admits(nil))
        #expect(KeyLimits.unrestricted.admits(nil) && KeyLimits.unrestricted.admits("anything"))
        #expect(throws: DomainError.self) { try limited.check(creating: .unrestricted) }
        let narrower = KeyLimits(scope: .read, allowedAddresses: [AddressRange("10.2.0.0/16")!], expiresAt: now.addingTimeInterval(30))
        try limited.check(creating: narrower)
        var later = narrower
        later.expiresAt = now.addingTimeInterval(120)
        #expect(throws: DomainError.self) { try limited.check(creating: later) }
        var wider = narrower
        wider.scope = .full
        #expect(throws: DomainError.self) { try limited.check(creating: wider) }
        #expect(KeyScope.full.covers(.send) && KeyScope.send.covers(.read) && !KeyScope.read.covers(.send))
        try KeyLimits.unrestricted.check(creating: limited)
    }

    @Test("an audit row's source address is an IP address or nothing")
    func originAddress() {
        #expect(RequestOrigin(channel: .api, sourceAddress: "203.0.113.7").sourceAddress == "203.0.113.7")
        #expect(RequestOrigin(channel: .api, sourceAddress: "fe80::1%eth0").sourceAddress == "fe80::1")
        for bad in ["unknown", "::::", "1.2.3", "/tmp/socket", ""] {
            #expect(RequestOrigin(channel: .api, sourceAddress: bad).sourceAddress == nil, "\(bad)")
        }
    }

    @Test("X-Forwarded-For counts only behind a trusted proxy, and only its rightmost untrusted hop")
    func forwardedClient() throws {
        let proxies = [AddressRange("127.0.0.1")!, AddressRange("10.0.0.0/8")!]
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: "203.0.113.7", trustedProxies: []) == "127.0.0.1")
        #expect(ClientAddress.resolve(peer: "198.51.100.1", forwardedFor: "203.0.113.7", trustedProxies: proxies) == "198.51.100.1")
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: "203.0.113.7", trustedProxies: proxies) == "203.0.113.7")
        // A client's own forged entry sits to the left of what the proxies appended.
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: "1.1.1.1, 203.0.113.7, 10.1.1.1", trustedProxies: proxies) == "203.0.113.7")
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: "garbage", trustedProxies: proxies) == "127.0.0.1")
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: nil, trustedProxies: proxies) == "127.0.0.1")
        #expect(ClientAddress.resolve(peer: "127.0.0.1", forwardedFor: "10.0.0.2", trustedProxies: proxies) == "10.0.0.2")
    }
}
