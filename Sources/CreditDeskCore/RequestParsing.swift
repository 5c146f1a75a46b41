import Foundation

/// Total parsers for text that arrives in requests: each returns a value or nil, never traps,
/// whatever the bytes. Digits are ASCII only: Unicode's other decimal digits (Arabic-Indic,
/// fullwidth, …) are not numbers here.
package enum RequestParsing {
    /// A calendar day `YYYY-MM-DD` of ASCII digits, with a real month and day (leap years
    /// included); years 0001–9999.
    package static func calendarDay(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = asciiNumber(bytes[0..<4]), let month = asciiNumber(bytes[5..<7]),
            let day = asciiNumber(bytes[8..<10]), year >= 1, (1...12).contains(month)
        else { return nil }
        guard (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        return (year, month, day)
    }

    /// An RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length, then
    /// `Z` or `±HH:MM`; `t`, `z` and a space for the `T` are accepted, as RFC 3339 allows.
    package static func timestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let day = calendarDay(String(decoding: bytes[0..<10], as: UTF8.self)),
            [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let hour = asciiNumber(bytes[11..<13]), let minute = asciiNumber(bytes[14..<16]),
            let second = asciiNumber(bytes[17..<19]), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            // Milliseconds are what the API keeps; more digits are read but add nothing.
            fraction = Double(asciiNumber(bytes[start..<min(index, start + 9)]) ?? 0) / pow(10, Double(min(index - start, 9)))
        }
        guard let offsetSeconds = offset(bytes[index...]) else { return nil }
        let days = CivilDate.daysSinceEpoch(year: day.year, month: day.month, day: day.day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `Z`, `z` or `±HH:MM`, and nothing after it.
    static func offset(_ bytes: ArraySlice<UInt8>) -> Int? {
        let bytes = Array(bytes)
        if bytes == [UInt8(ascii: "Z")] || bytes == [UInt8(ascii: "z")] { return 0 }
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"), bytes[3] == UInt8(ascii: ":"),
            let hours = asciiNumber(bytes[1..<3]), let minutes = asciiNumber(bytes[4..<6]), hours < 24, minutes < 60
        else { return nil }
        return (bytes[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3_600 + minutes * 60)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// A run of 1–18 ASCII digits (so it always fits an Int), nothing else.
    package static func asciiNumber(_ bytes: some Collection<UInt8>) -> Int? {
        guard (1...18).contains(bytes.count) else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// An optionally signed decimal integer of ASCII digits that fits `Int64`.
    package static func int64(_ text: String) -> Int64? {
        var bytes = Substring(text).utf8[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// An `application/x-www-form-urlencoded` body (or query): name → values in order.
    /// `+` is a space; a malformed percent escape is kept as written; a pair without `=` has
    /// the empty value; empty pairs are skipped. Bytes that are not UTF-8 become U+FFFD.
    package static func form(_ bytes: some Collection<UInt8>) -> [String: [String]] {
        var form: [String: [String]] = [:]
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: String
            let value: String
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                name = percentDecoded(pair[pair.startIndex..<equals])
                value = percentDecoded(pair[pair.index(after: equals)...])
            } else {
                name = percentDecoded(pair)
                value = ""
            }
            form[name, default: []].append(value)
        }
        return form
    }

    static func percentDecoded(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count,
                let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
            {
                output.append(high << 4 | low)
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Calendar arithmetic without Calendar or a time zone database (H. Hinnant's civil-calendar
/// algorithms): exact for any proleptic Gregorian date.
package enum CivilDate {
    /// Days from 1970-01-01 to the date.
    package static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
