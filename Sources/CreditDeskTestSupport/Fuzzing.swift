// Inputs for the fuzz tests of everything that reads request data.

/// A seeded generator (SplitMix64): the same inputs every run, so a failure reproduces.
package struct SeededGenerator: RandomNumberGenerator {
    package var state: UInt64
    package init(state: UInt64) { self.state = state }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Inputs that broke or could break a parser: other scripts' digits, separators alone,
/// broken escapes, overflow, control and invalid UTF-8 bytes.
package enum Adversarial {
    package static let strings: [String] = [
        "", "=", "&", "&=&", "==", "=&=", "%", "%%", "%zz", "%4", "a=%", "+", "-", "+-1", "--1", "٢٠٢٦-١١-٠١",
        "２０２６-１１-０１", "2026-11-01", "2026-02-29", "2024-02-29", "0000-01-01", "9999-12-31", "2026-13-01",
        "2026-1-1", "2026-11-01T00:00:00Z", "١٢", "١", "٣", "９", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "99999999999999999999999", "1e309", "1.5", "NaN", "-0",
        "\u{0}", "\u{FEFF}1", "1\u{0301}", "+６４２１５５５０１００", "+64 21 555 0100", "+", "+0", "+٦٤٢١٥٥٥٠١٠٠",
        String(repeating: "9", count: 10_000), String(repeating: "&=", count: 5_000), "NumMedia=-5", "NumMedia=99",
    ]

    package static func randomBytes(_ generator: inout SeededGenerator, alphabet: [UInt8]? = nil) -> [UInt8] {
        let count = Int.random(in: 0...40, using: &generator)
        return (0..<count).map { _ in
            if let alphabet { return alphabet.randomElement(using: &generator) ?? 0 }
            return UInt8.random(in: 0...255, using: &generator)
        }
    }

    /// Bytes biased to the characters parsers split on, plus digits of several scripts.
    package static let structural = Array("0123456789-+=&%.eE ".utf8) + Array("٢２".utf8)

    /// Every adversarial string, then random byte strings, as text (invalid UTF-8 repaired).
    package static func inputs(count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(state: seed)
        var result = strings
        for index in 0..<count {
            let bytes = randomBytes(&generator, alphabet: index.isMultiple(of: 2) ? structural : nil)
            result.append(String(decoding: bytes, as: UTF8.self))
        }
        return result
    }
}

