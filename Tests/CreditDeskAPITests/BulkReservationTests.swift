import CreditDeskContract
import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import CreditDeskAPI

/// Bulk reservations read in one pass when the body is in its plain form, and by the generated
/// server otherwise: both answer alike, and the single-pass reader gives up on anything it
/// does not read exactly as the contract's decoder would.
@Suite("Bulk reservations: the single-pass reader")
struct BulkReservationTests {
    func parse(_ text: String) -> Components.Schemas.ReserveBatch? { BulkReservationBody.parse(ByteBuffer(string: text)) }

    @Test("plain bodies are read, white space and key order as they come")
    func reads() throws {
        let batch = try #require(parse(#" { "items" : [ {"reference":"é-1","amount":3} ,{"amount":1000000000}],"unit":"mms" } "#))
        #expect(batch.unit == .mms)
        #expect(batch.items == [.init(amount: 3, reference: "é-1"), .init(amount: 1_000_000_000, reference: nil)])
        #expect(parse(#"{"unit":"sms","items":[]}"#)?.items == [])
    }

    @Test("anything else is left to the generated server", arguments: [
        #"{"unit":"sms","items":[{"amount":1,"reference":"a\"b"}]}"#,  // an escape
        #"{"unit":"sms","items":[{"amount":1,"reference":null}]}"#,
        #"{"unit":"sms","items":[{"amount":1,"amount":2}]}"#,  // a key twice
        #"{"unit":"sms","unit":"sms","items":[]}"#,
        #"{"unit":"sms","items":[{"amount":1,"extra":1}]}"#,  // an unknown key
        #"{"unit":"sms","items":[],"x":1}"#,
        #"{"unit":"sms","items":[{"amount":01}]}"#, #"{"unit":"sms","items":[{"amount":0}]}"#,
        #"{"unit":"sms","items":[{"amount":-1}]}"#, #"{"unit":"sms","items":[{"amount":1.0}]}"#,
        #"{"unit":"sms","items":[{"amount":1e3}]}"#, #"{"unit":"sms","items":[{"amount":1000000001}]}"#,
        #"{"unit":"sms","items":[{"amount":"1"}]}"#, #"{"unit":"sms","items":[{"reference":"a"}]}"#,
        #"{"unit":"SMS","items":[]}"#, #"{"unit":"sms"}"#, #"{"unit":"sms","items":[{"amount":1},]}"#,
        #"{"unit":"sms","items":[]} x"#, #"{"unit":"sms","items":[{"amount":1}]"#, "",
        "{\"unit\":\"sms\",\"items\":[{\"amount\":1,\"reference\":\"tab\there\"}]}",
    ])
    func givesUp(_ body: String) {
        #expect(parse(body) == nil, "\(body)")
    }

    @Test("invalid UTF-8 in a reference is left to the generated server")
    func invalidUTF8() {
        var buffer = ByteBuffer(string: #"{"unit":"sms","items":[{"amount":1,"reference":""#)
        buffer.writeBytes([0xC3, 0x28])
        buffer.writeString(#""}]}"#)
        #expect(BulkReservationBody.parse(buffer) == nil)
    }

    @Test("a plain body and one the generated server must decode (an escape) answer alike; replays too")
    func sameAnswers() async throws {
        try await withAPI { api, fixture, pool in
            let operatorKey = fixture.keys[.platformOperator]!
            let client = fixture.client.id.lower
            try await api.call(
                .post, "/v1/accounts/\(client)/credits/adjust", key: operatorKey,
                body: ["unit": "sms", "amount": 100, "reason": "funds"])
            let key = fixture.keys[.clientUser]!
            let path = "/v1/accounts/\(client)/reservations/bulk"
            let plain = #"{"unit":"sms","items":[{"amount":2,"reference":"A-1"},{"amount":3}]}"#
            let escaped = #"{"unit":"sms","items":[{"amount":2,"reference":"\u0041-1"},{"amount":3}]}"#
            let fast = try await api.call(.post, path, key: key, rawBody: plain, idempotencyKey: "bulk-fast")
            let slow = try await api.call(.post, path, key: key, rawBody: escaped, idempotencyKey: "bulk-slow")
            for reply in [fast, slow] {
                #expect(reply.status == .created)
                #expect(reply.headers[.contentType] == "application/json; charset=utf-8")
                #expect(!reply.replayed)
            }
            let (one, two) = (try fast.decode(Components.Schemas.ReservationBatch.self), try slow.decode(Components.Schemas.ReservationBatch.self))
            #expect(one.count == 2 && two.count == 2 && one.totalAmount == 5 && two.totalAmount == 5)
            let keys = { (reply: Reply) in
                Set((try JSONSerialization.jsonObject(with: reply.body) as? [String: Any] ?? [:]).keys)
            }
            #expect(try keys(fast) == keys(slow))
            // The same request replays, the two bodies being the same request (the escape decoded).
            let replay = try await api.call(.post, path, key: key, rawBody: escaped, idempotencyKey: "bulk-fast")
            #expect(replay.status == .created && replay.replayed && replay.body == fast.body)
            let fastReplay = try await api.call(.post, path, key: key, rawBody: plain, idempotencyKey: "bulk-slow")
            #expect(fastReplay.replayed && fastReplay.body == slow.body)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (100, 10, 90))
            try await verifyClean(pool)
        }
    }
}
