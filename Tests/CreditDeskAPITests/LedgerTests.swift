import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

@Suite("Ledger through the API")
struct LedgerTests {
    func fund(_ api: API, _ fixture: Fixture, sms: Int64 = 1_000, clientSMS: Int64 = 100) async throws {
        let grant = try await api.typed(fixture.keys[.platformOperator]).transferCredits(
            path: .init(id: fixture.platform.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(unit: .sms, amount: sms, toAccountId: fixture.reseller.id.objectID))
        ).ok.body.json
        #expect(grant.kind == .grant)
        _ = try await api.typed(fixture.keys[.resellerAdmin]).transferCredits(
            path: .init(id: fixture.reseller.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(unit: .sms, amount: clientSMS, toAccountId: fixture.client.id.objectID))
        ).ok
    }

    @Test("a replayed request returns the original response; the same key with another body is 409")
    func idempotency() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture)
            let key = fixture.keys[.resellerAdmin]
            let path = "/v1/accounts/\(fixture.client.id.lower)/credits/adjust"
            let body: [String: Any] = ["unit": "sms", "amount": 25, "reason": "bonus"]
            let first = try await api.call(.post, path, key: key, body: body, idempotencyKey: "bonus-1")
            let replay = try await api.call(.post, path, key: key, body: body, idempotencyKey: "bonus-1")
            #expect(first.status == .ok && replay.status == .ok)
            #expect(first["id"] as? NSNumber == replay["id"] as? NSNumber)
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let conflict = try await api.call(
                .post, path, key: key, body: ["unit": "sms", "amount": 26, "reason": "bonus"], idempotencyKey: "bonus-1")
            #expect(conflict.status == .conflict)
            #expect(conflict.errorCode == "idempotency_conflict")
            #expect(try await api.balance(fixture.client.id, .sms, key: key!).posted == 125)
            // A failed request does not burn its key: once credits exist, the same key applies.
            let remove = ["unit": "sms", "amount": -500, "reason": "clawback"] as [String: Any]
            #expect(try await api.call(.post, path, key: key, body: remove, idempotencyKey: "claw").status == .conflict)
            try await api.call(.post, path, key: key, body: ["unit": "sms", "amount": 400, "reason": "top up"])
            #expect(try await api.call(.post, path, key: key, body: remove, idempotencyKey: "claw").status == .ok)
            // Keys are per acting account: the same key from another account is a new request.
            let fromOperator = try await api.call(
                .post, path, key: fixture.keys[.platformOperator], body: body, idempotencyKey: "bonus-1")
            #expect(fromOperator.status == .ok && fromOperator.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            try await verifyClean(pool)
        }
    }

    @Test("insufficient credits is 409 with the available and requested amounts, and moves nothing")
    func insufficient() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 50, clientSMS: 20)
            let reply = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: fixture.keys[.clientUser],
                body: ["unit": "sms", "amount": 21])
            #expect(reply.status == .conflict)
            #expect(reply.errorCode == "insufficient_credits")
            #expect(reply.errorDetails?["available"] as? NSNumber == 20)
            #expect(reply.errorDetails?["requested"] as? NSNumber == 21)
            let overdraw = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: fixture.keys[.resellerAdmin],
                body: ["unit": "sms", "amount": 31, "to_account_id": fixture.client.id.lower])
            #expect(overdraw.errorCode == "insufficient_credits")
            #expect(try await api.balance(fixture.reseller.id, .sms, key: fixture.keys[.resellerAdmin]!).posted == 30)
            try await verifyClean(pool)
        }
    }

    @Test("a bulk reservation holds every message's credits at once, lists by batch, and settles per message")
    func bulkReservations() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 10_000, clientSMS: 5_000)
            let user = fixture.keys[.clientUser]!
            let account = "/v1/accounts/\(fixture.client.id.lower)"
            // 1,200 messages of 1 to 3 segments: more than two pages of the listing.
            let items: [[String: Any]] = (0..<1_200).map { ["amount": 1 + $0 % 3, "reference": "msg-\($0)"] }
            let total = (0..<1_200).reduce(Int64(0)) { $0 + Int64(1 + $1 % 3) }
            let batch = try await api.call(
                .post, "\(account)/reservations/bulk", key: user, body: ["unit": "sms", "items": items],
                idempotencyKey: "campaign-1")
            #expect(batch.status == .created)
            #expect(batch["count"] as? NSNumber == 1_200)
            #expect((batch["total_amount"] as? NSNumber)?.int64Value == total)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (5_000, total, 5_000 - total))
            let batchID = try #require(batch["batch_id"] as? String)

            // The same items with keys in another order replay; other items under the key conflict.
            let reordered = items.map { ["reference": $0["reference"]!, "amount": $0["amount"]!] }
            let replay = try await api.call(
                .post, "\(account)/reservations/bulk", key: user, body: ["items": reordered, "unit": "sms"],
                idempotencyKey: "campaign-1")
            #expect(replay.status == .created && replay["batch_id"] as? String == batchID)
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let changed = try await api.call(
                .post, "\(account)/reservations/bulk", key: user,
                body: ["unit": "sms", "items": Array(items.dropLast())], idempotencyKey: "campaign-1")
            #expect(changed.errorCode == "idempotency_conflict")

            // Every reservation of the batch, exactly once, across pages.
            var references: [String] = []
            var ids: [String: String] = [:]
            var cursor: String?
            repeat {
                let page = try await api.call(
                    .get, "\(account)/reservations?batch_id=\(batchID)&limit=500\(cursor.map { "&cursor=\($0)" } ?? "")",
                    key: user)
                #expect(page.status == .ok)
                for row in page["items"] as? [[String: Any]] ?? [] {
                    let reference = row["reference"] as? String ?? ""
                    references.append(reference)
                    ids[reference] = row["id"] as? String
                    #expect(row["batch_id"] as? String == batchID && row["status"] as? String == "pending")
                }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(references.count == 1_200 && Set(references) == Set((0..<1_200).map { "msg-\($0)" }))

            // Messages settle one by one: msg-2 (3 credits) posts, msg-0 (1 credit) voids.
            let post = try await api.call(.post, "/v1/reservations/\(ids["msg-2"]!)/post", key: user, body: [:])
            #expect(post["status"] as? String == "posted")
            let void = try await api.call(.post, "/v1/reservations/\(ids["msg-0"]!)/void", key: user, body: [:])
            #expect(void["status"] as? String == "voided")
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (4_997, total - 4, 4_997 - total + 4))
            let pending = try await api.call(.get, "\(account)/reservations?status=pending&limit=500", key: user)
            #expect((pending["items"] as? [[String: Any]])?.count == 500 && pending["next_cursor"] != nil)
            try await verifyClean(pool)
        }
    }

    @Test("a bulk reservation is all or nothing, and bad items are named")
    func bulkReservationRefusals() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 1_000, clientSMS: 100)
            let user = fixture.keys[.clientUser]!
            let path = "/v1/accounts/\(fixture.client.id.lower)/reservations/bulk"
            let tooMuch = try await api.call(
                .post, path, key: user, body: ["unit": "sms", "items": (0..<51).map { _ in ["amount": 2] }])
            #expect(tooMuch.errorCode == "insufficient_credits")
            #expect(tooMuch.errorDetails?["requested"] as? NSNumber == 102)
            let empty = try await api.call(.post, path, key: user, body: ["unit": "sms", "items": [] as [Any]])
            #expect(empty.status == .badRequest && empty.errorDetails?["field"] as? String == "items")
            let zero = try await api.call(
                .post, path, key: user, body: ["unit": "sms", "items": [["amount": 1], ["amount": 1], ["amount": 0]]])
            #expect(zero.status == .badRequest && zero.errorDetails?["field"] as? String == "items[2].amount")
            let longReference = try await api.call(
                .post, path, key: user, body: ["unit": "sms", "items": [["amount": 1, "reference": String(repeating: "r", count: 201)]]])
            #expect(longReference.errorDetails?["field"] as? String == "items[0].reference")
            let unknown = try await api.call(.post, path, key: user, body: ["unit": "sms", "items": [["amount": 1]], "x": 1])
            #expect(unknown.errorCode == "unknown_field")
            let mms = try await api.call(.post, path, key: user, body: ["unit": "mms", "items": [["amount": 1]]])
            #expect(mms.errorCode == "feature_disabled")
            // Nothing was held or created by any of them.
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (100, 0, 100))
            let listed = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: user)
            #expect((listed["items"] as? [[String: Any]])?.isEmpty == true)
            let badCursor = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/reservations?cursor=nonsense", key: user)
            #expect(badCursor.status == .badRequest)
            try await verifyClean(pool)
        }
    }

    @Test("reserve, partial post, void, charge and refund keep posted and reserved exact")
    func reservationLifecycle() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture)
            let user = fixture.keys[.clientUser]!
            let account = "/v1/accounts/\(fixture.client.id.lower)"
            let first = try await api.call(.post, "\(account)/reservations", key: user, body: ["unit": "sms", "amount": 30])
            #expect(first.status == .created)
            var balance = try await api.balance(fixture.client.id, .sms, key: user)
            #expect(balance == (100, 30, 70))
            let posted = try await api.call(.post, "/v1/reservations/\(first.id)/post", key: user, body: ["amount": 12])
            #expect(posted["status"] as? String == "posted" && posted["posted_amount"] as? NSNumber == 12)
            balance = try await api.balance(fixture.client.id, .sms, key: user)
            #expect(balance == (88, 0, 88))
            let again = try await api.call(.post, "/v1/reservations/\(first.id)/void", key: user, body: [:])
            #expect(again.status == .conflict)

            let second = try await api.call(.post, "\(account)/reservations", key: user, body: ["unit": "sms", "amount": 8])
            // More than is reserved: a well-formed amount the reservation's state does not allow.
            let tooMuch = try await api.call(.post, "/v1/reservations/\(second.id)/post", key: user, body: ["amount": 9])
            #expect(tooMuch.status == .conflict && tooMuch.errorDetails?["field"] as? String == "amount")
            #expect(try await api.call(.post, "/v1/reservations/\(second.id)/void", key: user, body: [:]).status == .ok)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (88, 0, 88))

            let charge = try await api.call(.post, "\(account)/charges", key: user, body: ["unit": "sms", "amount": 5])
            #expect(charge.status == .created)
            let chargeID = (charge["id"] as? NSNumber)?.int64Value ?? 0
            // A client cannot refund itself; its reseller can, up to what was charged.
            let selfRefund = try await api.call(.post, "/v1/entries/\(chargeID)/refund", key: user, body: ["reason": "x"])
            #expect(selfRefund.status == .forbidden)
            let admin = fixture.keys[.resellerAdmin]
            let refund = try await api.call(
                .post, "/v1/entries/\(chargeID)/refund", key: admin, body: ["amount": 3, "reason": "failed message"])
            #expect(refund.status == .created)
            let over = try await api.call(
                .post, "/v1/entries/\(chargeID)/refund", key: admin, body: ["amount": 3, "reason": "again"])
            #expect(over.status == .conflict && over.errorDetails?["field"] as? String == "amount")
            #expect(try await api.call(.post, "/v1/entries/\(chargeID)/refund", key: admin, body: ["reason": "rest"]).status == .created)
            #expect(try await api.call(.post, "/v1/entries/\(chargeID)/refund", key: admin, body: ["reason": "more"]).status == .conflict)
            #expect(try await api.balance(fixture.client.id, .sms, key: user) == (88, 0, 88))

            let overview = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/clients", key: admin)
            let row = (overview["items"] as? [[String: Any]])?.first
            // Used is what the usage report calls consumed: 12 sent plus 5 charged. The refund is
            // income of its own (the report's `refunded`), not negative use.
            #expect(row?["sms_used_this_month"] as? NSNumber == 17)
            let dashboard = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/dashboard", key: admin)
            #expect(dashboard["sms_used"] as? NSNumber == 17)
            let history = try await api.call(.get, "\(account)/entries?kind=refund", key: admin)
            #expect((history["items"] as? [Any])?.count == 2)
            try await verifyClean(pool)
        }
    }

    @Test("MMS credits need the effective mms feature, which the parent controls for the whole subtree")
    func mmsRules() async throws {
        try await withAPI { api, fixture, pool in
            let operatorKey = fixture.keys[.platformOperator]
            let admin = fixture.keys[.resellerAdmin]
            let grantMMS: [String: Any] = ["unit": "mms", "amount": 100, "to_account_id": fixture.reseller.id.lower]
            let refused = try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey, body: grantMMS)
            #expect(refused.errorCode == "feature_disabled")
            // Only the platform may enable MMS for a top-level reseller: not the reseller itself.
            let selfEnable = try await api.call(
                .patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: admin, body: ["mms": true])
            #expect(selfEnable.status == .forbidden)
            #expect(
                try await api.call(
                    .patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: operatorKey, body: ["mms": true]
                ).status == .ok)
            #expect(
                try await api.call(.post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey, body: grantMMS)
                    .status == .ok)
            // The client has not got it yet: a package with MMS cannot be sold to it.
            let package = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: admin,
                body: ["name": "Mixed", "sms_credits": 0, "mms_credits": 10, "price_minor": 990, "currency": "USD"])
            #expect(package.status == .created)
            let sale = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/package-sales", key: admin, body: ["package_id": package.id])
            #expect(sale.errorCode == "feature_disabled")
            let enableClient = try await api.call(
                .patch, "/v1/accounts/\(fixture.client.id.lower)/features", key: admin, body: ["mms": true])
            #expect((enableClient["effective"] as? [String: Bool])?["mms"] == true)
            let sold = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/package-sales", key: admin, body: ["package_id": package.id])
            #expect(sold.status == .created)
            #expect(sold["price_minor"] as? NSNumber == 990 && sold["currency"] as? String == "USD")
            #expect(try await api.balance(fixture.client.id, .mms, key: admin!).posted == 10)

            // Disabling on the reseller switches it off for the client at once, own flag kept.
            try await api.call(.patch, "/v1/accounts/\(fixture.reseller.id.lower)/features", key: operatorKey, body: ["mms": false])
            let features = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/features", key: admin)
            #expect((features["features"] as? [String: Bool])?["mms"] == true)
            #expect((features["effective"] as? [String: Bool])?["mms"] == false)
            let use = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: fixture.keys[.clientUser],
                body: ["unit": "mms", "amount": 1])
            #expect(use.errorCode == "feature_disabled")
            // A package with MMS needs the seller's own effective MMS.
            let mmsPackage = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: admin,
                body: ["name": "MMS", "mms_credits": 5, "price_minor": 1, "currency": "EUR"])
            #expect(mmsPackage.errorCode == "feature_disabled")
            try await verifyClean(pool)
        }
    }

    @Test("a credit limit lets an account go that far below zero, and not a credit more")
    func creditLimit() async throws {
        try await withAPI { api, fixture, pool in
            let admin = fixture.keys[.resellerAdmin]
            let operatorKey = fixture.keys[.platformOperator]
            let postpaid = try await api.call(
                .put, "/v1/accounts/\(fixture.reseller.id.lower)/credit-limit", key: operatorKey,
                body: ["unit": "sms", "credit_limit": 500])
            #expect(postpaid["available"] as? NSNumber == 500)
            let transfer: [String: Any] = ["unit": "sms", "amount": 500, "to_account_id": fixture.client.id.lower]
            #expect(
                try await api.call(.post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin, body: transfer)
                    .status == .ok)
            #expect(try await api.balance(fixture.reseller.id, .sms, key: admin!) == (-500, 0, 0))
            let more = try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                body: ["unit": "sms", "amount": 1, "to_account_id": fixture.client.id.lower])
            #expect(more.errorCode == "insufficient_credits")
            let lower = try await api.call(
                .put, "/v1/accounts/\(fixture.reseller.id.lower)/credit-limit", key: operatorKey,
                body: ["unit": "sms", "credit_limit": 100])
            #expect(lower.status == .conflict)
            try await verifyClean(pool)
        }
    }

    @Test("children and the clients overview page with cursors, search and sorting")
    func paging() async throws {
        try await withAPI { api, fixture, _ in
            let admin = fixture.keys[.resellerAdmin]
            try await fund(api, fixture, sms: 10_000, clientSMS: 1)
            for index in 0..<7 {
                let created = try await api.call(
                    .post, "/v1/accounts", key: admin,
                    body: ["parent_id": fixture.reseller.id.lower, "kind": "client", "name": "Shop \(index), \"Main\" St"])
                try await api.call(
                    .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                    body: ["unit": "sms", "amount": 10 * (index + 1), "to_account_id": created.id])
            }
            var names = [String]()
            var cursor: String? = nil
            repeat {
                let query = "limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/children?\(query)", key: admin)
                names += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(names.count == 8)
            #expect(names == names.sorted { $0.lowercased() < $1.lowercased() })
            let search = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/children?search=shop%203", key: admin)
            #expect((search["items"] as? [Any])?.count == 1)

            var available = [Int64]()
            cursor = nil
            repeat {
                let query = "sort=sms_available&order=desc&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/clients?\(query)", key: admin)
                #expect(page.status == .ok)
                available += (page["items"] as? [[String: Any]] ?? []).compactMap { ($0["sms_available"] as? NSNumber)?.int64Value }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(available == [70, 60, 50, 40, 30, 20, 10, 1])
            let badSort = try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/clients?sort=price", key: admin)
            #expect(badSort.status == .badRequest)
        }
    }
}
