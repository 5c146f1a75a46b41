import CreditDeskCore
import Testing

@Suite("Digest")
struct DigestTests {
    @Test("SHA-256 matches the FIPS 180-2 test vectors")
    func vectors() {
        #expect(Digest.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256([0x61, 0x62, 0x63]).count == 32)
        #expect(Digest.hex([0x00, 0x0f, 0xff]) == "000fff")
    }
}

@Suite("Base64URL")
struct Base64URLTests {
    @Test("encodes without padding or URL-unsafe characters and decodes back")
    func roundTrip() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xbf, 0x00, 0x3e]
        let text = Base64URL.encode(bytes)
        #expect(text == "-_-_AD4")
        #expect(Base64URL.decode(text) == bytes)
        #expect(Base64URL.encode(Array(repeating: 7, count: 32)).count == 43)
        #expect(Base64URL.decode("!!") == nil)
    }
}

@Suite("Constant-time comparison")
struct ConstantTimeTests {
    @Test("equal only for the same bytes, whatever the lengths")
    func equality() {
        #expect(Digest.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!Digest.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!Digest.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(Digest.constantTimeEqual([UInt8](), [UInt8]()))
    }
}
