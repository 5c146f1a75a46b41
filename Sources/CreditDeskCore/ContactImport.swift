import Foundation

/// A contacts file as people export it from a spreadsheet: RFC 4180 CSV (comma or semicolon,
/// quoted fields, CRLF or LF), a header row naming the columns in any order and case:
/// `name` (or `first_name` and `last_name`), `mobile`, `email`, `consent`. Rows become
/// candidate contacts with their line numbers; what each row lacks is judged when it is
/// imported, so that one bad row does not sink the file.
package enum ContactImport {
    package struct Row: Sendable, Equatable {
        package let line: Int
        package let firstName: String?
        package let lastName: String?
        package let mobile: String?
        package let email: String?
        /// nil when the cell is neither yes nor no in a language the console speaks.
        package let consent: Bool?
        package let consentText: String
    }

    package static let maxRows = 10_000

    static let consentYes: Set<String> = ["yes", "y", "true", "1", "oui", "ja", "x"]
    static let consentNo: Set<String> = ["no", "n", "false", "0", "non", "nee", ""]

    package static func rows(_ text: String) throws(DomainError) -> [Row] {
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let separator: Character = firstLine.filter { $0 == ";" }.count > firstLine.filter { $0 == "," }.count ? ";" : ","
        var records = parse(text, separator: separator)
        guard !records.isEmpty else { throw .invalid("file", "is empty: a header row and one row per contact are expected") }
        let header = records.removeFirst().fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ names: String...) -> Int? { header.firstIndex { names.contains($0) } }
        let name = column("name", "full_name"), first = column("first_name", "firstname", "first name")
        let last = column("last_name", "lastname", "last name"), mobile = column("mobile", "phone", "mobile_phone")
        let email = column("email", "e-mail"), consent = column("consent", "sms_consent")
        guard name != nil || first != nil else { throw .invalid("file", "the header row needs a name or first_name column") }
        guard mobile != nil else { throw .invalid("file", "the header row needs a mobile column") }
        let rows = records.filter { !$0.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        guard rows.count <= maxRows else { throw .invalid("file", "holds \(rows.count) contacts; at most \(maxRows) at once") }
        return rows.map { record in
            func cell(_ index: Int?) -> String? {
                guard let index, index < record.fields.count else { return nil }
                let value = record.fields[index].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            var firstName = cell(first), lastName = cell(last)
            if firstName == nil, let full = cell(name) {
                let parts = full.split(separator: " ", maxSplits: 1)
                firstName = parts.first.map(String.init)
                if lastName == nil, parts.count > 1 { lastName = String(parts[1]) }
            }
            let consentText = cell(consent) ?? ""
            let lowered = consentText.lowercased()
            return Row(
                line: record.line, firstName: firstName, lastName: lastName, mobile: cell(mobile), email: cell(email),
                consent: consentYes.contains(lowered) ? true : consentNo.contains(lowered) ? false : nil,
                consentText: consentText)
        }
    }

    /// RFC 4180 records with the line each starts on.
    static func parse(_ text: String, separator: Character) -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field = "", quoted = false, line = 1, start = 1
        var characters = text.makeIterator()
        var pending = characters.next()
        while let character = pending {
            pending = characters.next()
            if quoted {
                if character == "\"" {
                    if pending == "\"" { field.append("\""); pending = characters.next() } else { quoted = false }
                } else {
                    if character.isNewline { line += 1 }
                    field.append(character)
                }
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else if character == separator {
                fields.append(field)
                field = ""
            } else if character.isNewline {
                fields.append(field)
                records.append((start, fields))
                fields = []
                field = ""
                line += 1
                start = line
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !fields.isEmpty { records.append((start, fields + [field])) }
        return records
    }
}

/// The parts of a `multipart/form-data` body (a file upload): each part's name, file name and
/// bytes.
package enum Multipart {
    package struct Part: Sendable {
        package let name: String
        package let fileName: String?
        package let body: [UInt8]
    }

    /// The boundary a `Content-Type: multipart/form-data; boundary=…` header names.
    package static func boundary(_ contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("boundary=") {
                let value = pair.dropFirst("boundary=".count)
                return String(value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? value.dropFirst().dropLast() : value)
            }
        }
        return nil
    }

    package static func parts(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        var cursor = 0
        guard var start = find(delimiter, in: body, from: 0) else { return [] }
        while true {
            cursor = start + delimiter.count
            // "--" after a delimiter ends the body.
            if body.count >= cursor + 2, body[cursor] == UInt8(ascii: "-"), body[cursor + 1] == UInt8(ascii: "-") { break }
            guard let next = find(delimiter, in: body, from: cursor),
                let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: cursor), headerEnd < next
            else { break }
            let headers = String(decoding: body[cursor..<headerEnd], as: UTF8.self)
            var contentEnd = next
            if contentEnd >= 2, body[contentEnd - 2] == 13, body[contentEnd - 1] == 10 { contentEnd -= 2 }
            if let name = attribute("name", headers) {
                parts.append(Part(name: name, fileName: attribute("filename", headers), body: Array(body[(headerEnd + 4)..<max(headerEnd + 4, contentEnd)])))
            }
            start = next
        }
        return parts
    }

    static func attribute(_ name: String, _ headers: String) -> String? {
        guard let match = headers.firstMatch(of: try! Regex("[; ]\(name)=\"([^\"]*)\"")) else { return nil }
        return match.output[1].substring.map(String.init)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count, from <= haystack.count - needle.count else { return nil }
        var index = from
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
