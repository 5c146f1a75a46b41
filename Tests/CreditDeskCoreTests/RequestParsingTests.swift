import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskCore

@Suite("Parsers of request data: a value or a refusal, never a trap")
struct RequestParsingTests {
    @Test("calendar days are ASCII YYYY-MM-DD with real months and days")
    func calendarDays() {
        let parts = { (text: String) in RequestParsing.calendarDay(text).map { [$0.year, $0.month, $0.day] } }
        #expect(parts("2026-11-01") == [2026, 11, 1])
        #expect(parts("2024-02-29") == [2024, 2, 29])
        for refused in ["٢٠٢٦-١١-٠١", "２０２６-１１-０１", "2026-02-29", "1900-02-29", "2026-04-31", "0000-01-01", "2026-1-01",
                        "2026-11-01 ", "+026-11-01", "2026-00-10"]
        {
            #expect(RequestParsing.calendarDay(refused) == nil, "\(refused)")
        }
    }

    @Test("integers are ASCII digits within Int64")
    func integers() {
        #expect(RequestParsing.int64("9223372036854775807") == Int64.max)
        #expect(RequestParsing.int64("-9223372036854775808") == Int64.min)
        #expect(RequestParsing.int64("+12") == 12)
        for refused in ["9223372036854775808", "-9223372036854775809", "١٢", "１２", "", "-", "+", "1.5", "1e3", " 1", "0x10"] {
            #expect(RequestParsing.int64(refused) == nil, "\(refused)")
        }
    }

    @Test("form bodies: separators alone, broken escapes and repeated names")
    func forms() {
        #expect(RequestParsing.form(Array("=".utf8)) == ["": [""]])
        #expect(RequestParsing.form(Array("&=&".utf8)) == ["": [""]])
        #expect(RequestParsing.form(Array("a=1&a=2&b&c=%zz&d=%4&e=x+y%2By".utf8))
                == ["a": ["1", "2"], "b": [""], "c": ["%zz"], "d": ["%4"], "e": ["x y+y"]])
        #expect(RequestParsing.form(Array("Body=%E2%9C%93%FF".utf8))["Body"] == ["✓\u{FFFD}"])
    }

    @Test("fuzz: every parser answers every input, and what it accepts is well formed")
    func fuzz() {
        for text in Adversarial.inputs(count: 3_000, seed: 0x5EED_0001) {
            if let day = RequestParsing.calendarDay(text) {
                #expect(text.utf8.allSatisfy { $0 < 0x80 } && (1...12).contains(day.month) && (1...31).contains(day.day))
            }
            if let value = RequestParsing.int64(text) {
                #expect(Int64(text) == value, "\(text)")
            }
            let form = RequestParsing.form(Array(text.utf8))
            #expect(form.values.allSatisfy { !$0.isEmpty })
            if let number = try? PhoneNumber.parse(text) {
                #expect(number.e164.utf8.dropFirst().allSatisfy { (0x30...0x39).contains($0) }, "\(text)")
                #expect((9...16).contains(number.e164.utf8.count))
            }
            _ = OptKeyword.parse(text)
            _ = try? ReplyRoutingRule.parse(text)
            #expect(Segmenter.count(text).segments >= 1 || text.isEmpty)
        }
    }
}

@Suite("RFC 3339 timestamps")
struct TimestampParsingTests {
    @Test("offsets, fractions and lower-case letters, to the same instants Foundation reads")
    func instants() throws {
        let reference = try #require(try? Date("2026-12-01T18:35:18Z", strategy: .iso8601))
        for text in ["2026-12-01T18:35:18Z", "2026-12-01t18:35:18z", "2026-12-01 18:35:18Z", "2026-12-01T20:35:18+02:00",
                     "2026-12-01T13:05:18-05:30", "2026-12-01T18:35:18.000Z", "2026-12-01T18:35:18.0000000001Z"]
        {
            #expect(RequestParsing.timestamp(text) == reference, "\(text)")
        }
        #expect(RequestParsing.timestamp("2026-12-01T18:35:18.250Z") == reference.addingTimeInterval(0.25))
        #expect(RequestParsing.timestamp("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(RequestParsing.timestamp("2024-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_709_164_800))
        for refused in ["2026-12-01T18:35:18", "2026-12-01T24:00:00Z", "2026-12-01T18:60:00Z", "2026-12-01T18:35:18+2:00",
                        "2026-12-01T18:35:18.Z", "٢٠٢٦-١٢-٠١T18:35:18Z", "2026-12-01T18:35:18Zjunk", "2026-02-30T00:00:00Z"]
        {
            #expect(RequestParsing.timestamp(refused) == nil, "\(refused)")
        }
        for text in Adversarial.inputs(count: 500, seed: 0x5EED_0007) {
            _ = RequestParsing.timestamp(text)
        }
    }
}
