import CreditDeskCore
import Testing

@Suite("Export encoding")
struct ExportEncodingTests {
    static let rows: [[ExportValue]] = [
        [.int(1), .text("plain"), .null],
        [.int(-42), .text("comma, \"quote\"\r\nnew line"), .text("tab\there")],
        [.int(0), .text("émoji 🚀 \u{1} control"), .text("back\\slash")],
        [.int(Int64.max), .text(""), .null],
    ]

    @Test("the byte encoder writes exactly what the string encoder writes, in both formats")
    func byteEncoderMatches() {
        for format in ExportFormat.allCases {
            let encoder = ExportEncoder(format: format, columns: ["n", "name", "note"])
            let bytes = ExportByteEncoder(encoder, kinds: [.int, .text, .text])
            for row in Self.rows {
                var out = [UInt8]()
                bytes.appendRow(to: &out) { column, write in
                    switch row[column] {
                    case .null: write(nil)
                    case .int(let number): Array(String(number).utf8).withUnsafeBufferPointer { write($0) }
                    case .text(let text), .json(let text): Array(text.utf8).withUnsafeBufferPointer { write($0) }
                    }
                }
                #expect(String(decoding: out, as: UTF8.self) == encoder.line(row), "\(format) \(row)")
            }
        }
    }

    @Test("CSV quotes only when needed and doubles quotes; JSON escapes control characters")
    func escaping() {
        let csv = ExportEncoder(format: .csv, columns: ["a", "b"])
        #expect(csv.header == "a,b\r\n")
        #expect(csv.line([.text("x,y"), .text("say \"hi\"")]) == "\"x,y\",\"say \"\"hi\"\"\"\r\n")
        let jsonl = ExportEncoder(format: .jsonl, columns: ["a", "b"])
        #expect(jsonl.line([.text("line\nbreak\u{1}"), .null]) == "{\"a\":\"line\\nbreak\\u0001\",\"b\":null}\n")
    }
}
