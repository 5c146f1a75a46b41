/// Total parsers for text that arrives in requests: each returns a value or nil, never traps,
/// whatever the bytes. Digits are ASCII only: Unicode's other decimal digits (Arabic-Indic,
/// fullwidth, …) are not numbers here.
public enum RequestParsing {
    /// A calendar day `YYYY-MM-DD` of ASCII digits, with a real month and day (leap years
    /// included); years 0001–9999.
    public static func calendarDay(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = asciiNumber(bytes[0..<4]), let month = asciiNumber(bytes[5..<7]),
            let day = asciiNumber(bytes[8..<10]), year >= 1, (1...12).contains(month)
        else { return nil }
        guard (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        return (year, month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// A run of 1–18 ASCII digits (so it always fits an Int), nothing else.
    public static func asciiNumber(_ bytes: some Collection<UInt8>) -> Int? {
        guard (1...18).contains(bytes.count) else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// An optionally signed decimal integer of ASCII digits that fits `Int64`.
    public static func int64(_ text: String) -> Int64? {
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
    public static func form(_ bytes: some Collection<UInt8>) -> [String: [String]] {
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
