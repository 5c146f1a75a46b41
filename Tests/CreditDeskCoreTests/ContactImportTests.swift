@testable import CreditDeskCore
import Testing

@Suite("Contacts files and uploads")
struct ContactImportTests {
    @Test("CSV rows: headers in any order and case, commas or semicolons, quotes, a BOM, full names split, consent words")
    func rows() throws {
        let text = "\u{FEFF}Mobile;E-mail;Name;Consent\r\n+64211;a@b.example;\"Lopez; Ana\";JA\n;;;\n+64212;;Ben;maybe\n"
        let rows = try ContactImport.rows(text)
        #expect(rows.count == 2)
        #expect(rows[0] == .init(line: 2, firstName: "Lopez;", lastName: "Ana", mobile: "+64211", email: "a@b.example",
                                 consent: true, consentText: "JA"))
        #expect(rows[1].line == 4 && rows[1].consent == nil && rows[1].consentText == "maybe")
        let split = try ContactImport.rows("first_name,last_name,mobile\nAna,\"Lo\"\"pez\",+1\n")
        #expect(split[0].lastName == "Lo\"pez" && split[0].consent == false)
        // A quoted field may hold a line break; the next row's line number counts it.
        let multiline = try ContactImport.rows("name,mobile\n\"Ana\nMaria\",+1\nBen,+2\n")
        #expect(multiline.map(\.line) == [2, 4] && multiline[0].firstName == "Ana\nMaria")
    }

    @Test("unreadable files are refused whole, with the reason")
    func refusals() {
        #expect(throws: DomainError.self) { try ContactImport.rows("") }
        #expect(throws: DomainError.invalid("file", "the header row needs a mobile column")) { try ContactImport.rows("name,email\n") }
        #expect(throws: DomainError.invalid("file", "the header row needs a name or first_name column")) {
            try ContactImport.rows("mobile\n+1\n")
        }
    }

    @Test("multipart bodies: fields and files by name, the boundary from the header, CRLF kept inside a file")
    func multipart() {
        let boundary = Multipart.boundary("multipart/form-data; boundary=\"XyZ\"")
        #expect(boundary == "XyZ")
        #expect(Multipart.boundary("application/x-www-form-urlencoded") == nil)
        let body = Array(
            ("--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken\r\n"
                + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                + "name,mobile\r\nAna,+1\r\n\r\n--XyZ--\r\n").utf8)
        let parts = Multipart.parts(body, boundary: "XyZ")
        #expect(parts.map(\.name) == ["csrf", "file"])
        #expect(parts[0].fileName == nil && String(decoding: parts[0].body, as: UTF8.self) == "token")
        #expect(parts[1].fileName == "a.csv" && String(decoding: parts[1].body, as: UTF8.self) == "name,mobile\r\nAna,+1\r\n")
        #expect(Multipart.parts(Array("no boundary here".utf8), boundary: "XyZ").isEmpty)
    }

    @Test("prices as typed: a point or a comma, one or two decimals")
    func prices() throws {
        #expect(try Money.minorUnits("12", field: "price") == 1_200)
        #expect(try Money.minorUnits(" 12,5 ", field: "price") == 1_250)
        #expect(try Money.minorUnits("0.05", field: "price") == 5)
        #expect(throws: DomainError.self) { try Money.minorUnits("1.234", field: "price") }
        #expect(throws: DomainError.self) { try Money.minorUnits("-3", field: "price") }
    }
}
