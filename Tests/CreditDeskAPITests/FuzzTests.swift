import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Testing

@testable import CreditDeskAPI

/// Hostile bytes in every place a request carries data. A trap here ends the test process, so
/// "the suite finished" is itself the first assertion; each answer must also be a 2xx or 4xx.
@Suite("Fuzz: query parameters, form bodies and JSON numbers answer 2xx or 4xx, never a trap or 5xx")
struct FuzzTests {
    /// Every byte but the unreserved ones percent-encoded, so the request carries them as is.
    static func encoded(_ text: String) -> String {
        text.utf8.map { byte in
            let unreserved = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte)
            return unreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }.joined()
    }

    static func concrete(_ path: String, _ fixture: Fixture) -> String {
        path.replacingOccurrences(
            of: "{id}", with: path.hasPrefix("/v1/accounts/") ? fixture.reseller.id.lower : UUID().lower
        ).replacingOccurrences(of: "{gateway}", with: UUID().lower)
    }

    @Test("every documented query parameter, with adversarial and random values")
    func queryParameters() async throws {
        try await withAPI { api, fixture, pool in
            let key = fixture.keys[.resellerAdmin]
            let values = Adversarial.inputs(count: 25, seed: 0x5EED_0002)
            for (path, names) in OpenAPIController.queryParameters.sorted(by: { $0.key < $1.key }) {
                let method: HTTPRequest.Method = path.hasPrefix("/v1/callbacks/twilio/") ? .post : .get
                for name in names {
                    for value in values {
                        let uri = "\(Self.concrete(path, fixture))?\(name)=\(Self.encoded(value))"
                        let reply = try await api.call(method, uri, key: key, rawBody: "")
                        #expect(reply.status.code < 500, "\(uri): \(reply.status.code) \(reply.errorCode ?? "")")
                    }
                }
            }
            try await verifyClean(pool)
        }
    }

    @Test("cursors this API could have issued, holding adversarial values, on every paged listing")
    func cursors() async throws {
        try await withAPI { api, fixture, _ in
            let key = fixture.keys[.resellerAdmin]
            let values = Adversarial.inputs(count: 15, seed: 0x5EED_0005)
            let listings = OpenAPIController.queryParameters.filter { $0.value.contains("cursor") }.keys.sorted()
            for path in listings {
                for value in values {
                    for parts in [[value], [value, UUID().lower], [value, value], ["\(value.utf8.count)", value]] {
                        let uri = "\(Self.concrete(path, fixture))?cursor=\(Cursor.encode(parts))"
                        let reply = try await api.call(.get, uri, key: key)
                        #expect(reply.status.code < 500, "\(uri) \(parts): \(reply.status.code) \(reply.errorCode ?? "")")
                    }
                }
            }
        }
    }

    @Test("phone numbers in bodies and paths")
    func phones() async throws {
        try await withAPI { api, fixture, pool in
            let key = fixture.keys[.clientAdmin]
            let client = "/v1/accounts/\(fixture.client.id.lower)"
            for value in Adversarial.inputs(count: 60, seed: 0x5EED_0006) {
                let optOut = try await api.call(.post, "\(client)/opt-outs", key: key, body: ["phones": [value]])
                #expect(optOut.status.code < 500, "\(value.debugDescription): \(optOut.status.code)")
                let optIn = try await api.call(.delete, "\(client)/opt-outs/\(Self.encoded(value))", key: key)
                #expect(optIn.status.code < 500, "\(value.debugDescription): \(optIn.status.code)")
                let contact = try await api.call(
                    .post, "\(client)/contacts", key: key, body: ["first_name": "Ana", "mobile": value, "work_phone": value])
                #expect(contact.status.code < 500, "\(value.debugDescription): \(contact.status.code)")
            }
            try await verifyClean(pool)
        }
    }

    @Test("gateway callbacks with adversarial form bodies and queries")
    func callbackBodies() async throws {
        try await withAPI { api, _, _ in
            var bodies = Adversarial.inputs(count: 200, seed: 0x5EED_0003)
            bodies += ["From=%2B64215550100&NumMedia=-5", "From=%2B64215550100&NumMedia=99999999999999999999", "=&NumMedia=%D9%A2"]
            for path in ["twilio/\(UUID().lower)/inbound", "twilio/\(UUID().lower)/status?message=\(UUID().lower)"] {
                for body in bodies {
                    let reply = try await api.call(.post, "/v1/callbacks/\(path)", key: nil, rawBody: body)
                    #expect(reply.status.code < 500, "\(path) \(body.debugDescription): \(reply.status.code)")
                }
            }
            for body in bodies.prefix(120) {
                for path in ["kannel/\(UUID().lower)/dlr?message=\(UUID().lower)&status=", "kannel/\(UUID().lower)/mo?from="] {
                    let reply = try await api.call(.get, "/v1/callbacks/\(path)\(Self.encoded(body))", key: nil)
                    #expect(reply.status.code < 500, "\(path) \(body.debugDescription): \(reply.status.code)")
                }
            }
        }
    }

    @Test("a number no field can hold is a 400 naming the field, wherever the field is")
    func jsonNumbers() async throws {
        try await withAPI { api, fixture, pool in
            let key = fixture.keys[.platformOperator]
            let client = "/v1/accounts/\(fixture.client.id.lower)"
            let numbers = ["9223372036854775808", "1.5", "1e309", "-9223372036854775809", "1e400", "-1e309",
                           "123456789012345678901234567890"]
            for number in numbers {
                let adjust = try await api.call(
                    .post, "\(client)/credits/adjust", key: key, rawBody: "{\"unit\":\"sms\",\"amount\":\(number),\"reason\":\"x\"}")
                #expect(adjust.status == .badRequest && adjust.errorCode == "invalid_field", "\(number)")
                #expect(adjust.errorField == "amount", "\(number): \(adjust.text)")
                let bulk = try await api.call(
                    .post, "\(client)/reservations/bulk", key: key,
                    rawBody: "{\"unit\":\"sms\",\"items\":[{\"amount\":1},{\"amount\":\(number)}]}")
                #expect(bulk.errorField == "items[1].amount", "\(number): \(bulk.text)")
                let limit = try await api.call(
                    .put, "\(client)/credit-limit", key: key, rawBody: "{\"unit\":\"sms\",\"credit_limit\":\(number)}")
                #expect(limit.errorField == "credit_limit", "\(number)")
            }
            // Whole numbers written another way are numbers all the same.
            let written = try await api.call(
                .post, "\(client)/credits/adjust", key: key, rawBody: "{\"unit\":\"sms\",\"amount\":1e1,\"reason\":\"x\"}")
            #expect(written.status == .ok)
            #expect(try await api.balance(fixture.client.id, .sms, key: key!).posted == 10)
            var generator = SeededGenerator(state: 0x5EED_0004)
            for _ in 0..<300 {
                let text = String(decoding: Adversarial.randomBytes(&generator, alphabet: Adversarial.structural), as: UTF8.self)
                let reply = try await api.call(
                    .post, "\(client)/charges", key: key, rawBody: "{\"unit\":\"sms\",\"amount\":\(text)}")
                #expect(reply.status.code < 500, "\(text.debugDescription): \(reply.status.code)")
            }
            try await verifyClean(pool)
        }
    }
}
