/// Export formats for billing staff. Pure text encoding; no I/O.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, jsonl

    public var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .jsonl: "application/x-ndjson; charset=utf-8"
        }
    }

    public var fileExtension: String { rawValue }
}

public enum ExportValue: Sendable, Equatable {
    case text(String)
    case int(Int64)
    case null
}

/// Encodes rows as RFC 4180 CSV (CRLF line ends, a header row, fields quoted when they hold a
/// comma, quote, CR or LF, quotes doubled) or as JSON Lines (one object per line, keys in
/// column order).
public struct ExportEncoder: Sendable {
    public let format: ExportFormat
    public let columns: [String]

    public init(format: ExportFormat, columns: [String]) {
        self.format = format
        self.columns = columns
    }

    /// The CSV header row; JSON Lines has none.
    public var header: String {
        switch format {
        case .csv: columns.map(Self.csvField).joined(separator: ",") + "\r\n"
        case .jsonl: ""
        }
    }

    public func line(_ values: [ExportValue]) -> String {
        precondition(values.count == columns.count, "a row must have one value per column")
        switch format {
        case .csv:
            return values.map { value in
                switch value {
                case .text(let text): Self.csvField(text)
                case .int(let number): String(number)
                case .null: ""
                }
            }.joined(separator: ",") + "\r\n"
        case .jsonl:
            let fields = zip(columns, values).map { column, value in
                let encoded: String =
                    switch value {
                    case .text(let text): Self.jsonString(text)
                    case .int(let number): String(number)
                    case .null: "null"
                    }
                return Self.jsonString(column) + ":" + encoded
            }
            return "{" + fields.joined(separator: ",") + "}\n"
        }
    }

    public static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
