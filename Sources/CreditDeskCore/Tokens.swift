import Foundation

/// Random bytes from the system's generator, for secrets and tokens.
package enum SecureRandom {
    package static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// 256 random bits in base64url (43 characters): API keys, session and CSRF tokens.
    package static func token() -> String { Base64URL.encode(bytes(32)) }
}

/// Keyset cursors: the parts of the last row's sort key, as base64url of a JSON array, opaque
/// to clients. The API and the console issue and read them alike.
package enum CursorCoding {
    package static func encode(_ parts: [String]) -> String {
        Base64URL.encode(Array((try? JSONEncoder().encode(parts)) ?? Data()))
    }

    /// The parts of a cursor this program issued with `count` parts; nil for anything else.
    package static func decode(_ text: String, count: Int) -> [String]? {
        guard let bytes = Base64URL.decode(text), let parts = try? JSONDecoder().decode([String].self, from: Data(bytes)),
            parts.count == count
        else { return nil }
        return parts
    }
}

extension RawRepresentable where RawValue == String {
    /// The same case in the other enum of a pair that two layers both spell out (the core's and
    /// the contract's or the library's). Tests check each pair has the same cases, so a missing
    /// case is a build defect, not input to answer.
    package func sameCase<T: RawRepresentable>(_: T.Type = T.self) -> T where T.RawValue == String {
        guard let value = T(rawValue: rawValue) else { preconditionFailure("\(T.self) has no case \(rawValue)") }
        return value
    }
}

extension UUID {
    /// As ids appear on the wire, in cursors, in links and in SQL array literals.
    package var lower: String { uuidString.lowercased() }
}
