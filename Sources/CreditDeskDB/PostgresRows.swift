import Foundation

/// Types a result column decodes into. Results arrive in text format.
package protocol PostgresDecodable: Sendable {
    static func decode(postgresText text: String) -> Self?
}

extension String: PostgresDecodable {
    package static func decode(postgresText text: String) -> String? { text }
}
extension Int64: PostgresDecodable {
    package static func decode(postgresText text: String) -> Int64? { Int64(text) }
}
extension Int: PostgresDecodable {
    package static func decode(postgresText text: String) -> Int? { Int(text) }
}
extension Double: PostgresDecodable {
    package static func decode(postgresText text: String) -> Double? { Double(text) }
}
extension Int32: PostgresDecodable {
    package static func decode(postgresText text: String) -> Int32? { Int32(text) }
}
extension Bool: PostgresDecodable {
    package static func decode(postgresText text: String) -> Bool? {
        switch text {
        case "t", "true": true
        case "f", "false": false
        default: nil
        }
    }
}
extension UUID: PostgresDecodable {
    package static func decode(postgresText text: String) -> UUID? { UUID(uuidString: text) }
}
extension Date: PostgresDecodable {
    package static func decode(postgresText text: String) -> Date? { PostgresTimestamp.parse(text) }
}
extension Array: PostgresDecodable where Element == UInt8 {
    /// bytea in `bytea_output = hex` form: `\x0a1b…`.
    package static func decode(postgresText text: String) -> [UInt8]? {
        let hex = Array(text.utf8)
        guard hex.count >= 2, hex[0] == UInt8(ascii: "\\"), hex[1] == UInt8(ascii: "x"), hex.count % 2 == 0
        else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((hex.count - 2) / 2)
        var index = 2
        while index < hex.count {
            guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// One result row: text values by column, NULL as nil. Owns its data; no C pointer survives.
package struct PostgresRow: Sendable {
    package let columns: PostgresColumns
    package let values: [String?]

    package func isNull(_ column: String) throws -> Bool {
        values[try columns.index(of: column)] == nil
    }

    package func decode<T: PostgresDecodable>(_ type: T.Type, _ column: String) throws -> T {
        let index = try columns.index(of: column)
        guard let text = values[index] else {
            throw DatabaseError(.decoding, message: "column \(column) is NULL, expected \(T.self)")
        }
        guard let value = T.decode(postgresText: text) else {
            throw DatabaseError(.decoding, message: "column \(column) does not decode as \(T.self)")
        }
        return value
    }

    package func decode<T: PostgresDecodable>(_ type: T?.Type, _ column: String) throws -> T? {
        let index = try columns.index(of: column)
        guard let text = values[index] else { return nil }
        guard let value = T.decode(postgresText: text) else {
            throw DatabaseError(.decoding, message: "column \(column) does not decode as \(T.self)")
        }
        return value
    }
}

/// Column names of a result, shared by all its rows.
package final class PostgresColumns: Sendable {
    package let names: [String]
    private let indexByName: [String: Int]

    init(names: [String]) {
        self.names = names
        var indexByName = [String: Int]()
        for (index, name) in names.enumerated() where indexByName[name] == nil {
            indexByName[name] = index
        }
        self.indexByName = indexByName
    }

    func index(of name: String) throws -> Int {
        guard let index = indexByName[name] else {
            throw DatabaseError(.decoding, message: "no column named \(name) in the result")
        }
        return index
    }
}

/// A whole result: rows plus the affected-row count of an INSERT/UPDATE/DELETE.
package struct PostgresResult: Sendable {
    package let rows: [PostgresRow]
    package let affectedRows: Int

    package var first: PostgresRow? { rows.first }

    /// The single row a statement must return, or a decoding error naming what was expected.
    package func single() throws -> PostgresRow {
        guard rows.count == 1 else {
            throw DatabaseError(.decoding, message: "expected exactly one row, got \(rows.count)")
        }
        return rows[0]
    }
}
