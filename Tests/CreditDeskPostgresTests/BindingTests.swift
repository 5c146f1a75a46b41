import CreditDeskTestSupport
import Foundation
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

@Suite("Parameter binding and decoding")
struct BindingTests {
    @Test("text, int, bool, null, timestamp, UUID and bytea round-trip through parameters")
    func roundTrip() async throws {
        try await withTestDatabase { pool in
            let text = "O'Brien; DROP TABLE x; -- \"quoted\" \\ émoji 🚀 \u{2028}"
            let when = Date(timeIntervalSince1970: 1_795_000_000.123456)
            let id = UUID()
            let bytes = (0...255).map { UInt8($0) } + [0, 0]
            let row = try await pool.withConnection { connection in
                try connection.execute(
                    """
                    SELECT $1::text AS t, $2::bigint AS i, $3::bigint AS i_min, $4::boolean AS b_true,
                           $5::boolean AS b_false, $6::text AS n, $7::timestamptz AS ts, $8::uuid AS u,
                           $9::bytea AS by, $10::bytea AS empty, $11::text AS empty_text
                    """,
                    [text, Int64.max, Int64.min, true, false, Optional<String>.none, when, id, bytes, [UInt8](), ""]
                ).single()
            }
            #expect(try row.decode(String.self, "t") == text)
            #expect(try row.decode(Int64.self, "i") == Int64.max)
            #expect(try row.decode(Int64.self, "i_min") == Int64.min)
            #expect(try row.decode(Bool.self, "b_true") == true)
            #expect(try row.decode(Bool.self, "b_false") == false)
            #expect(try row.decode(String?.self, "n") == nil)
            #expect(try row.isNull("n"))
            let decodedDate = try row.decode(Date.self, "ts")
            #expect(abs(decodedDate.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_001)
            #expect(try row.decode(UUID.self, "u") == id)
            #expect(try row.decode([UInt8].self, "by") == bytes)
            #expect(try row.decode([UInt8].self, "empty") == [])
            #expect(try row.decode(String.self, "empty_text") == "")
        }
    }

    @Test("a quoted array literal round-trips any text: quotes, backslashes, braces, commas, NULL, empty, emoji")
    func quotedArrays() async throws {
        try await withTestDatabase { pool in
            let values: [String?] = [
                "plain", "a\"b", "back\\slash\\", "{braces}", "co,mma", nil, "", "NULL", "émoji 🚀 ⚠️", " spaced ",
                "\\\"", "new\nline",
            ]
            let back = try await pool.withConnection { connection in
                try connection.execute(
                    "SELECT v FROM unnest($1::text::text[]) WITH ORDINALITY AS t (v, n) ORDER BY n", [quotedArrayLiteral(values)]
                ).rows.map { try $0.decode(String?.self, "v") }
            }
            #expect(back == values)
        }
    }

    @Test("the server computes with bound values, it does not see them as SQL")
    func valuesAreNotSQL() async throws {
        try await withTestDatabase { pool in
            let count = try await pool.withConnection { connection in
                try connection.execute("CREATE TABLE probe (v text)")
                try connection.execute("INSERT INTO probe VALUES ($1)", ["x'); DROP TABLE probe; --"])
                return try connection.execute("SELECT count(*)::bigint AS c FROM probe").single().decode(Int64.self, "c")
            }
            #expect(count == 1)
        }
    }

    @Test("a NUL character in a text parameter is refused before it reaches libpq")
    func nulInText() async throws {
        try await withTestDatabase { pool in
            let error = await #expect(throws: DatabaseError.self) {
                try await pool.withConnection { connection in
                    try connection.execute("SELECT $1::text", ["a\u{0}b"])
                }
            }
            #expect(error?.code == .invalidParameter)
        }
    }

    @Test("timestamps before 1970 and at microsecond precision format and parse exactly")
    func timestampText() throws {
        let early = Date(timeIntervalSince1970: -86_400 * 365.25 * 30 + 0.5)
        let text = PostgresTimestamp.format(early)
        #expect(text.hasSuffix(".500000+00"))
        let parsed = try #require(PostgresTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince1970 - early.timeIntervalSince1970) < 0.000_001)
        #expect(PostgresTimestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00.000000+00")
        #expect(PostgresTimestamp.parse("2026-11-22 10:00:00+05:30")?.timeIntervalSince1970 == 1_795_321_800)
        #expect(PostgresTimestamp.parse("not a date") == nil)
    }

    @Test("decoding a column as the wrong type or a missing column is a decoding error")
    func decodingErrors() async throws {
        try await withTestDatabase { pool in
            let row = try await pool.withConnection { connection in
                try connection.execute("SELECT 'abc'::text AS t").single()
            }
            #expect(throws: DatabaseError.self) { try row.decode(Int64.self, "t") }
            #expect(throws: DatabaseError.self) { try row.decode(String.self, "missing") }
        }
    }
}
