import CreditDeskCore
import Foundation

/// A statement parameter. Values only ever travel as parameters, never inside statement text.
package enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case bool(Bool)
    case timestamp(Date)
    case uuid(UUID)
    case bytea([UInt8])

    /// The parameter's type OID, sent with the statement so the server never has to guess.
    var typeOID: UInt32 {
        switch self {
        case .null: 0  // unknown: the server infers it from the context
        case .text: 25
        case .int: 20
        case .bool: 16
        case .timestamp: 1184
        case .uuid: 2950
        case .bytea: 17
        }
    }

    /// bytea goes in binary format (no hex round trip); everything else as text.
    var isBinary: Bool {
        if case .bytea = self { return true }
        return false
    }

    /// The parameter's wire bytes, or nil for SQL NULL.
    func wireBytes() throws -> [UInt8]? {
        switch self {
        case .null:
            return nil
        case .text(let string):
            // PostgreSQL text cannot hold NUL, and libpq would silently cut the value there.
            if string.utf8.contains(0) {
                throw DatabaseError(.invalidParameter, message: "text parameter contains a NUL character")
            }
            return Array(string.utf8)
        case .int(let value):
            return Array(String(value).utf8)
        case .bool(let value):
            return Array((value ? "t" : "f").utf8)
        case .timestamp(let date):
            return Array(PostgresTimestamp.format(date).utf8)
        case .uuid(let uuid):
            return Array(uuid.uuidString.lowercased().utf8)
        case .bytea(let bytes):
            return bytes
        }
    }
}

/// Types that bind as a statement parameter.
package protocol PostgresBindable: Sendable {
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresBindable {
    package var postgresValue: PostgresValue { self }
}
extension String: PostgresBindable {
    package var postgresValue: PostgresValue { .text(self) }
}
extension Int: PostgresBindable {
    package var postgresValue: PostgresValue { .int(Int64(self)) }
}
extension Int64: PostgresBindable {
    package var postgresValue: PostgresValue { .int(self) }
}
extension Int32: PostgresBindable {
    package var postgresValue: PostgresValue { .int(Int64(self)) }
}
extension Bool: PostgresBindable {
    package var postgresValue: PostgresValue { .bool(self) }
}
extension Date: PostgresBindable {
    package var postgresValue: PostgresValue { .timestamp(self) }
}
extension UUID: PostgresBindable {
    package var postgresValue: PostgresValue { .uuid(self) }
}
extension Array: PostgresBindable where Element == UInt8 {
    package var postgresValue: PostgresValue { .bytea(self) }
}
extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    package var postgresValue: PostgresValue {
        switch self {
        case .none: .null
        case .some(let value): value.postgresValue
        }
    }
}

/// Timestamps in the text form the server speaks once the session has `DateStyle=ISO` and
/// `TimeZone=UTC` (the connection sets both): `2026-11-22 10:00:00.123456+00`.
enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        // Whole microseconds since the epoch, floor-divided so dates before 1970 work too.
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        let (year, month, day, hour, minute, second) = civil(fromUnixSeconds: seconds)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(fraction, 6))+00"
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]+00` (also `+00:00`, `Z`, a `T` separator).
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            if digits < 6 { for _ in digits..<6 { micros *= 10 } }
        }
        var offsetSeconds: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "+") ? 1 : -1
            let rest = String(decoding: bytes[(index + 1)...], as: UTF8.self).replacingOccurrences(of: ":", with: "")
            guard let digits = Int64(rest) else { return nil }
            let (hours, minutes) = rest.count <= 2 ? (digits, Int64(0)) : (digits / 100, digits % 100)
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        let days = Int64(CivilDate.daysSinceEpoch(year: Int(year), month: Int(month), day: Int(day)))
        let unixSeconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(unixSeconds) + Double(micros) / 1_000_000)
    }

    // Howard Hinnant's civil-calendar algorithms: exact, no Calendar or time zone database.
    static func civil(fromUnixSeconds seconds: Int64)
        -> (Int64, Int64, Int64, Int64, Int64, Int64)
    {
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60)
    }
}
