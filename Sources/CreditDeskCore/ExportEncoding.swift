/// Export formats for billing staff. Pure text encoding; no I/O.
package enum ExportFormat: String, Sendable, CaseIterable {
    case csv, jsonl

    package var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .jsonl: "application/x-ndjson; charset=utf-8"
        }
    }

    package var fileExtension: String { rawValue }
}

package enum ExportValue: Sendable, Equatable {
    case text(String)
    case int(Int64)
    /// A JSON document (an object's changes): embedded as is in JSON Lines, as text in CSV.
    case json(String)
    case null
}

/// Encodes rows as RFC 4180 CSV (CRLF line ends, a header row, fields quoted when they hold a
/// comma, quote, CR or LF, quotes doubled) or as JSON Lines (one object per line, keys in
/// column order).
package struct ExportEncoder: Sendable {
    package let format: ExportFormat
    package let columns: [String]

    package init(format: ExportFormat, columns: [String]) {
        self.format = format
        self.columns = columns
    }

    /// The CSV header row; JSON Lines has none.
    package var header: String {
        switch format {
        case .csv: columns.map(Self.csvField).joined(separator: ",") + "\r\n"
        case .jsonl: ""
        }
    }

    package func line(_ values: [ExportValue]) -> String {
        precondition(values.count == columns.count, "a row must have one value per column")
        switch format {
        case .csv:
            return values.map { value in
                switch value {
                case .text(let text), .json(let text): Self.csvField(text)
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
                    case .json(let document): document
                    case .null: "null"
                    }
                return Self.jsonString(column) + ":" + encoded
            }
            return "{" + fields.joined(separator: ",") + "}\n"
        }
    }

    package static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    package static func jsonString(_ text: String) -> String {
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

/// Byte-level encoding of one row into an output buffer, for exports that read values in
/// place: same output as `ExportEncoder.line`, without a String per value.
package struct ExportByteEncoder: Sendable {
    package enum Kind: Sendable { case text, int }

    package let format: ExportFormat
    package let kinds: [Kind]
    /// `"column":` for JSON Lines, one per column, encoded once.
    private let jsonKeys: [[UInt8]]

    package init(_ encoder: ExportEncoder, kinds: [Kind]) {
        precondition(kinds.count == encoder.columns.count, "one kind per column")
        self.format = encoder.format
        self.kinds = kinds
        self.jsonKeys = encoder.columns.map { Array((ExportEncoder.jsonString($0) + ":").utf8) }
    }

    /// Appends one row; `value(i)` gives column i's bytes (nil for NULL) to the closure.
    package func appendRow(
        to out: inout [UInt8], value: (Int, (UnsafeBufferPointer<UInt8>?) -> Void) -> Void
    ) {
        if format == .jsonl { out.append(UInt8(ascii: "{")) }
        for column in 0..<kinds.count {
            if column > 0 { out.append(UInt8(ascii: ",")) }
            if format == .jsonl { out.append(contentsOf: jsonKeys[column]) }
            value(column) { bytes in
                switch (format, kinds[column], bytes) {
                case (.csv, _, nil): break
                case (.jsonl, _, nil): out.append(contentsOf: [110, 117, 108, 108])  // null
                case (_, .int, let bytes?): out.append(contentsOf: bytes)
                case (.csv, .text, let bytes?): Self.appendCSV(bytes, to: &out)
                case (.jsonl, .text, let bytes?): Self.appendJSON(bytes, to: &out)
                }
            }
        }
        if format == .jsonl {
            out.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "\n")])
        } else {
            out.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        }
    }

    static func appendCSV(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let needsQuotes = bytes.contains { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }  // , " \n \r
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(34)
        for byte in bytes {
            if byte == 34 { out.append(34) }
            out.append(byte)
        }
        out.append(34)
    }

    static func appendJSON(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(34)
        for byte in bytes {
            switch byte {
            case 34: out.append(contentsOf: [92, 34])
            case 92: out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, 110])
            case 13: out.append(contentsOf: [92, 114])
            case 9: out.append(contentsOf: [92, 116])
            case 0..<0x20: out.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)  // UTF-8 passes through unchanged, as JSON allows
            }
        }
        out.append(34)
    }
}
