@testable import CreditDeskCore
import Testing

@Suite("Templates, rate tables and reply match orders")
struct ContactsTests {
    @Test("a template renders each recipient's fields, tolerates spaces, and refuses unknown placeholders")
    func templates() throws {
        let template = try MessageTemplate("Hi {{first_name}} {{ last_name }}, see you {{first_name}}!")
        #expect(template.render(["first_name": "Ana", "last_name": "Kahu"]) == "Hi Ana Kahu, see you Ana!")
        #expect(template.render(["first_name": "Ana"]) == "Hi Ana , see you Ana!")
        #expect(try MessageTemplate("No fields at all").render([:]) == "No fields at all")
        #expect(throws: DomainError.invalid("template", "unknown placeholder {{firstname}}; use {{first_name}} or {{last_name}}")) {
            try MessageTemplate("Hi {{firstname}}")
        }
        #expect(throws: DomainError.self) { try MessageTemplate("") }
    }

    @Test("rendering without a regex gives what the placeholder regex gives, on edge cases too")
    func templatesAgainstTheRegex() throws {
        let values = ["first_name": "Ana", "last_name": "Kahu"]
        let texts = [
            "{{first_name}}", "{{first_name}}{{last_name}}", "a {{ first_name\t}} b", "{{{first_name}}",
            "{ {first_name}} {{first_name} }", "}}{{last_name}}{{", "{{first_name}}}", "x {{ }} y", "{{\nlast_name\n}}é",
            "emoji 🎉 {{first_name}} 🎉", "{{first_name",
        ]
        for text in texts {
            let regex = /\{\{\s*([^}]*?)\s*\}\}/
            let names = text.matches(of: regex).map { String($0.1) }
            guard names.allSatisfy(MessageTemplate.fields.contains) else {
                #expect(throws: DomainError.self, "\(text)") { try MessageTemplate(text) }
                continue
            }
            let expected = text.replacing(regex) { values[String($0.1)] ?? "" }
            #expect(try MessageTemplate(text).render(values) == expected, "\(text)")
        }
    }

    @Test("an email is accepted exactly when the contract's pattern accepts it, counted in scalars")
    func emailsAgainstTheContract() throws {
        // The pattern of `Email` in openapi.yaml (the empty string aside: none).
        // Matched scalar by scalar, as JSON Schema's regular expressions (and schemathesis) match.
        let contract = /[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+[.][^@\x00-\x20\x7f]+/.matchingSemantics(.unicodeScalar)
        let values = [
            "billing@harbour-dental.example", "a@b.c", "a@.bc", "a@bc.", "@b.c", "a@b@c.d", "a b@c.d", "a@b.c\u{7f}",
            "¦µēÝleĐ𢺽@`ĊL.🏻]T", "x@y.\u{301}z", "x@\u{301}y.z", "é@ü.ö", "a@b..", "a@..b",
        ]
        for value in values {
            let accepted = (try? Validate.email(value)) != nil
            let matches = value.unicodeScalars.count <= 320
                && (try? contract.wholeMatch(in: value)) != nil
            #expect(accepted == matches, "\(value.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    @Test("the longest matching prefix sets the rate; no match is no rate")
    func rateTable() {
        let table = RateTable(["64": 1, "6422": 2, "44": 5])
        #expect(table.rate(for: PhoneNumber(e164: "+64211234567")) == 1)
        #expect(table.rate(for: PhoneNumber(e164: "+64221234567")) == 2)
        #expect(table.rate(for: PhoneNumber(e164: "+447700900123")) == 5)
        #expect(table.rate(for: PhoneNumber(e164: "+15551234567")) == nil)
        #expect(RateTable([:]).rate(for: PhoneNumber(e164: "+64211234567")) == nil)
    }

    @Test("a reply match order names known fields, each once")
    func matchOrder() throws {
        #expect(try ContactPhoneField.matchOrder(["home_phone", "mobile"]) == [.homePhone, .mobile])
        #expect(throws: DomainError.self) { try ContactPhoneField.matchOrder([]) }
        #expect(throws: DomainError.self) { try ContactPhoneField.matchOrder(["mobile", "mobile"]) }
        #expect(throws: DomainError.self) { try ContactPhoneField.matchOrder(["fax"]) }
    }
}

@Suite("Reply routing rule")
struct ReplyRoutingTests {
    let rule = ReplyRoutingRule.default
    let nz = PhoneNumber(e164: "+64211234567"), au = PhoneNumber(e164: "+61412345678")

    @Test("mobile forwarding obeys the email-only countries; email and none are as chosen")
    func destinations() throws {
        #expect(rule.destination(channel: .mobile, email: "a@b.nz", mobile: au) == .mobile(au))
        #expect(rule.destination(channel: .mobile, email: "a@b.nz", mobile: nz) == .email("a@b.nz"))
        if case .nowhere(let reason) = rule.destination(channel: .mobile, email: nil, mobile: nz) {
            #expect(reason.contains("+64"))
        } else {
            Issue.record("an NZ mobile without email must go nowhere")
        }
        #expect(rule.destination(channel: .email, email: "a@b.nz", mobile: au) == .email("a@b.nz"))
        #expect(rule.destination(channel: .none, email: "a@b.nz", mobile: au) == .nowhere(reason: "the user does not forward replies"))
        #expect(try ReplyRoutingRule.parse("64, 61").emailOnlyCallingCodes == ["64", "61"])
        #expect(try ReplyRoutingRule.parse("").emailOnlyCallingCodes.isEmpty)
        #expect(throws: DomainError.self) { try ReplyRoutingRule.parse("NZ") }
    }
}
