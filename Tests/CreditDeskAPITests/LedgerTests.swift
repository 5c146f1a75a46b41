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
            let admin = api.typed(fixture.keys[.resellerAdmin])
            func adjust(_ amount: Int64, _ reason: String, key: String, as actor: Client? = nil) async throws
                -> Endpoints.AdjustCredits.Output
            {
                try await (actor ?? admin).adjustCredits(
                    path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: key),
                    body: .json(.init(unit: .sms, amount: amount, reason: reason)))
            }
            let first = try await adjust(25, "bonus", key: "bonus-1").ok
            let replay = try await adjust(25, "bonus", key: "bonus-1").ok
            #expect(try first.body.json.id == replay.body.json.id)
            #expect(first.headers.idempotentReplayed == nil && replay.headers.idempotentReplayed == ._true)
            let conflict = try await adjust(26, "bonus", key: "bonus-1")
            #expect(contractError(conflict)?.code == "idempotency_conflict")
            #expect(try await api.balance(fixture.client.id, .sms, key: fixture.keys[.resellerAdmin]!).posted == 125)
            // A failed request does not burn its key: once credits exist, the same key applies.
            #expect(contractError(try await adjust(-500, "clawback", key: "claw"))?.code == "insufficient_credits")
            _ = try await adjust(400, "top up", key: freshKey()).ok
            _ = try await adjust(-500, "clawback", key: "claw").ok
            // Keys are per acting account: the same key from another account is a new request.
            let fromOperator = try await adjust(
                25, "bonus", key: "bonus-1", as: api.typed(fixture.keys[.platformOperator])
            ).ok
            #expect(fromOperator.headers.idempotentReplayed == nil)
            #expect(try fromOperator.body.json.id != first.body.json.id)
            try await verifyClean(pool)
        }
    }

    @Test("insufficient credits is 409 with the available and requested amounts, and moves nothing")
    func insufficient() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 50, clientSMS: 20)
            let reply = try await api.typed(fixture.keys[.clientUser]).reserveCredits(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 21)))
            let error = try reply.conflict.body.json.error
            #expect(error.code == "insufficient_credits")
            #expect(error.detail("available") == "20" && error.detail("requested") == "21")
            let overdraw = try await api.typed(fixture.keys[.resellerAdmin]).transferCredits(
                path: .init(id: fixture.reseller.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 31, toAccountId: fixture.client.id.objectID)))
            #expect(contractError(overdraw)?.code == "insufficient_credits")
            #expect(try await api.balance(fixture.reseller.id, .sms, key: fixture.keys[.resellerAdmin]!).posted == 30)
            try await verifyClean(pool)
        }
    }

    /// Every reservation of a listing, following cursors to the end.
    func allReservations(
        _ user: Client, _ account: UUID, batch: String? = nil, status: Components.Schemas.ReservationStatus? = nil
    ) async throws -> [Components.Schemas.Reservation] {
        var rows: [Components.Schemas.Reservation] = []
        var cursor: String?
        repeat {
            let page = try await user.listReservations(
                path: .init(id: account.objectID),
                query: .init(status: status, batchId: batch.flatMap(UUID.init(uuidString:))?.objectID, limit: 500, cursor: cursor)
            ).ok.body.json
            rows += page.items
            cursor = page.nextCursor
        } while cursor != nil
        return rows
    }

    @Test("a bulk reservation holds every message's credits at once, lists by batch, and settles per message")
    func bulkReservations() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 10_000, clientSMS: 5_000)
            let key = fixture.keys[.clientUser]!
            let user = api.typed(key)
            // 1,200 messages of 1 to 3 segments: more than two pages of the listing.
            let items = (0..<1_200).map { Components.Schemas.ReserveBatch.ItemsPayloadPayload(amount: Int64(1 + $0 % 3), reference: "msg-\($0)") }
            let total = items.reduce(Int64(0)) { $0 + $1.amount }
            func reserve(_ items: [Components.Schemas.ReserveBatch.ItemsPayloadPayload]) async throws
                -> Endpoints.ReserveCreditsInBulk.Output
            {
                try await user.reserveCreditsInBulk(
                    path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: "campaign-1"),
                    body: .json(.init(unit: .sms, items: items)))
            }
            let batch = try await reserve(items).created.body.json
            #expect(batch.count == 1_200 && batch.totalAmount == total)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (5_000, total, 5_000 - total))

            // The same items with keys in another order replay; other items under the key conflict.
            let reordered: [[String: Any]] = items.map { ["reference": $0.reference!, "amount": $0.amount] }
            let replay = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations/bulk", key: key,
                body: ["items": reordered, "unit": "sms"], idempotencyKey: "campaign-1")
            #expect(replay.status == .created && replay.replayed)
            #expect(try replay.decode(Components.Schemas.ReservationBatch.self) == batch)
            #expect(contractError(try await reserve(Array(items.dropLast())))?.code == "idempotency_conflict")

            // Every reservation of the batch, exactly once, across pages.
            let rows = try await allReservations(user, fixture.client.id, batch: batch.batchId.description)
            #expect(rows.count == 1_200 && Set(rows.compactMap(\.reference)) == Set(items.compactMap(\.reference)))
            #expect(rows.allSatisfy { $0.batchId == batch.batchId && $0.status == .pending })
            let ids = Dictionary(uniqueKeysWithValues: rows.map { ($0.reference ?? "", $0.id) })

            // Messages settle one by one: msg-2 (3 credits) posts, msg-0 (1 credit) voids.
            let post = try await user.postReservation(
                path: .init(id: ids["msg-2"]!), headers: .init(idempotencyKey: freshKey()), body: .json(.init())
            ).ok.body.json
            #expect(post.status == .posted)
            let void = try await user.voidReservation(
                path: .init(id: ids["msg-0"]!), headers: .init(idempotencyKey: freshKey())
            ).ok.body.json
            #expect(void.status == .voided)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (4_997, total - 4, 4_997 - total + 4))
            let pending = try await user.listReservations(
                path: .init(id: fixture.client.id.objectID), query: .init(status: .pending, limit: 500)
            ).ok.body.json
            #expect(pending.items.count == 500 && pending.nextCursor != nil)
            try await verifyClean(pool)
        }
    }

    @Test("a bulk reservation is all or nothing, and bad items are named")
    func bulkReservationRefusals() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture, sms: 1_000, clientSMS: 100)
            let key = fixture.keys[.clientUser]!
            let user = api.typed(key)
            typealias Item = Components.Schemas.ReserveBatch.ItemsPayloadPayload
            func reserve(_ items: [Item], unit: Components.Schemas.CreditUnit = .sms) async throws
                -> Components.Schemas._Error._ErrorPayload?
            {
                contractError(
                    try await user.reserveCreditsInBulk(
                        path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                        body: .json(.init(unit: unit, items: items))))
            }
            let tooMuch = try await reserve(Array(repeating: Item(amount: 2), count: 51))
            #expect(tooMuch?.code == "insufficient_credits" && tooMuch?.detail("requested") == "102")
            #expect(try await reserve([])?.detail("field") == "items")
            #expect(try await reserve([Item(amount: 1), Item(amount: 1), Item(amount: 0)])?.detail("field") == "items[2].amount")
            let longReference = Item(amount: 1, reference: String(repeating: "r", count: 201))
            #expect(try await reserve([longReference])?.detail("field") == "items[0].reference")
            #expect(try await reserve([Item(amount: 1)], unit: .mms)?.code == "feature_disabled")
            let unknown = try await api.call(
                .post, "/v1/accounts/\(fixture.client.id.lower)/reservations/bulk", key: key,
                body: ["unit": "sms", "items": [["amount": 1]], "x": 1])
            #expect(unknown.errorCode == "unknown_field")
            // Nothing was held or created by any of them.
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (100, 0, 100))
            #expect(try await allReservations(user, fixture.client.id).isEmpty)
            let badCursor = try await user.listReservations(
                path: .init(id: fixture.client.id.objectID), query: .init(cursor: "nonsense"))
            #expect(try badCursor.badRequest.body.json.error.detail("field") == "cursor")
            try await verifyClean(pool)
        }
    }

    /// Holds `amount` SMS credits on `account`.
    func reserve(_ user: Client, _ account: ObjectID, _ amount: Int64) async throws -> Components.Schemas.Reservation {
        try await user.reserveCredits(
            path: .init(id: account), headers: .init(idempotencyKey: freshKey()), body: .json(.init(unit: .sms, amount: amount))
        ).created.body.json
    }

    @Test("reserve, partial post, void, charge and refund keep posted and reserved exact")
    func reservationLifecycle() async throws {
        try await withAPI { api, fixture, pool in
            try await fund(api, fixture)
            let key = fixture.keys[.clientUser]!
            let user = api.typed(key)
            let client = fixture.client.id.objectID
            func post(_ id: ObjectID, _ amount: Int64) async throws -> Endpoints.PostReservation.Output {
                try await user.postReservation(
                    path: .init(id: id), headers: .init(idempotencyKey: freshKey()), body: .json(.init(amount: amount)))
            }
            func release(_ id: ObjectID) async throws -> Endpoints.VoidReservation.Output {
                try await user.voidReservation(path: .init(id: id), headers: .init(idempotencyKey: freshKey()))
            }
            let first = try await reserve(user, client, 30)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (100, 30, 70))
            let posted = try await post(first.id, 12).ok.body.json
            #expect(posted.status == .posted && posted.postedAmount == 12)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (88, 0, 88))
            #expect(contractError(try await release(first.id))?.code == "conflict")

            let second = try await reserve(user, client, 8)
            // More than is reserved: a well-formed amount the reservation's state does not allow.
            #expect(try await post(second.id, 9).conflict.body.json.error.detail("field") == "amount")
            _ = try await release(second.id).ok
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (88, 0, 88))

            let charge = try await user.chargeCredits(
                path: .init(id: client), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 5))
            ).created.body.json
            let admin = api.typed(fixture.keys[.resellerAdmin])
            func refund(_ amount: Int64?, _ reason: String, as actor: Client) async throws -> Endpoints.RefundEntry.Output {
                try await actor.refundEntry(
                    path: .init(id: charge.id), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(amount: amount, reason: reason)))
            }
            // A client cannot refund itself; its reseller can, up to what was charged.
            #expect(try await refund(nil, "x", as: user).forbidden.body.json.error.code == "forbidden")
            #expect(try await refund(3, "failed message", as: admin).created.body.json.amount == 3)
            #expect(try await refund(3, "again", as: admin).conflict.body.json.error.detail("field") == "amount")
            #expect(try await refund(nil, "rest", as: admin).created.body.json.amount == 2)
            #expect(contractError(try await refund(nil, "more", as: admin))?.code != nil)
            #expect(try await api.balance(fixture.client.id, .sms, key: key) == (88, 0, 88))

            let reseller = fixture.reseller.id.objectID
            let row = try await admin.listClients(path: .init(id: reseller)).ok.body.json.items.first
            // Used is what the usage report calls consumed: 12 sent plus 5 charged. The refund is
            // income of its own (the report's `refunded`), not negative use.
            #expect(row?.smsUsedThisMonth == 17)
            #expect(try await admin.getDashboard(path: .init(id: reseller)).ok.body.json.smsUsed == 17)
            let history = try await admin.listEntries(path: .init(id: client), query: .init(kind: .refund)).ok.body.json
            #expect(history.items.count == 2 && history.items.allSatisfy { $0.kind == .refund })
            try await verifyClean(pool)
        }
    }

    @Test("MMS credits need the effective mms feature, which the parent controls for the whole subtree")
    func mmsRules() async throws {
        try await withAPI { api, fixture, pool in
            let platformOperator = api.typed(fixture.keys[.platformOperator])
            let admin = api.typed(fixture.keys[.resellerAdmin])
            let reseller = fixture.reseller.id.objectID
            let client = fixture.client.id.objectID
            func grantMMS() async throws -> Endpoints.TransferCredits.Output {
                try await platformOperator.transferCredits(
                    path: .init(id: fixture.platform.id.objectID), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(unit: .mms, amount: 100, toAccountId: reseller)))
            }
            func setMMS(_ on: Bool, on account: ObjectID, as actor: Client) async throws -> Endpoints.UpdateFeatures.Output {
                try await actor.updateFeatures(
                    path: .init(id: account), headers: .init(idempotencyKey: freshKey()), body: .json(.init(mms: on)))
            }
            func sell(_ package: ObjectID) async throws -> Endpoints.SellPackage.Output {
                try await admin.sellPackage(
                    path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(packageId: package)))
            }
            func createPackage(_ name: String, sms: Int64?, mms: Int64, price: Int64, currency: String) async throws
                -> Endpoints.CreatePackage.Output
            {
                try await admin.createPackage(
                    path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(
                        value1: .init(name: name, smsCredits: sms, mmsCredits: mms, priceMinor: price, currency: currency),
                        value2: .init(value2: .init(mmsCredits: Int(mms))))))
            }
            #expect(contractError(try await grantMMS())?.code == "feature_disabled")
            // Only the platform may enable MMS for a top-level reseller: not the reseller itself.
            #expect(contractError(try await setMMS(true, on: reseller, as: admin))?.code == "forbidden")
            _ = try await setMMS(true, on: reseller, as: platformOperator).ok
            _ = try await grantMMS().ok
            // The client has not got it yet: a package with MMS cannot be sold to it.
            let package = try await createPackage("Mixed", sms: 0, mms: 10, price: 990, currency: "USD").created.body.json
            #expect(contractError(try await sell(package.id))?.code == "feature_disabled")
            #expect(try await setMMS(true, on: client, as: admin).ok.body.json.effective.mms == true)
            let sold = try await sell(package.id).created.body.json
            #expect(sold.priceMinor == 990 && sold.currency == "USD")
            #expect(try await api.balance(fixture.client.id, .mms, key: fixture.keys[.resellerAdmin]!).posted == 10)

            // Disabling on the reseller switches it off for the client at once, own flag kept.
            _ = try await setMMS(false, on: reseller, as: platformOperator).ok
            let features = try await admin.getFeatures(path: .init(id: client)).ok.body.json
            #expect(features.features.mms == true && features.effective.mms == false)
            let use = try await api.typed(fixture.keys[.clientUser]).reserveCredits(
                path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(unit: .mms, amount: 1)))
            #expect(contractError(use)?.code == "feature_disabled")
            // A package with MMS needs the seller's own effective MMS.
            let mmsPackage = try await createPackage("MMS", sms: nil, mms: 5, price: 1, currency: "EUR")
            #expect(contractError(mmsPackage)?.code == "feature_disabled")
            try await verifyClean(pool)
        }
    }

    @Test("a credit limit lets an account go that far below zero, and not a credit more")
    func creditLimit() async throws {
        try await withAPI { api, fixture, pool in
            let admin = api.typed(fixture.keys[.resellerAdmin])
            let platformOperator = api.typed(fixture.keys[.platformOperator])
            let reseller = fixture.reseller.id.objectID
            func setLimit(_ limit: Int64) async throws -> Endpoints.SetCreditLimit.Output {
                try await platformOperator.setCreditLimit(
                    path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(unit: .sms, creditLimit: limit)))
            }
            func transfer(_ amount: Int64) async throws -> Endpoints.TransferCredits.Output {
                try await admin.transferCredits(
                    path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(unit: .sms, amount: amount, toAccountId: fixture.client.id.objectID)))
            }
            #expect(try await setLimit(500).ok.body.json.available == 500)
            _ = try await transfer(500).ok
            #expect(try await api.balance(fixture.reseller.id, .sms, key: fixture.keys[.resellerAdmin]!) == (-500, 0, 0))
            #expect(contractError(try await transfer(1))?.code == "insufficient_credits")
            #expect(contractError(try await setLimit(100)) != nil)
            #expect(try await api.balance(fixture.reseller.id, .sms, key: fixture.keys[.resellerAdmin]!) == (-500, 0, 0))
            try await verifyClean(pool)
        }
    }

    @Test("children and the clients overview page with cursors, search and sorting")
    func paging() async throws {
        try await withAPI { api, fixture, _ in
            let admin = api.typed(fixture.keys[.resellerAdmin])
            let reseller = fixture.reseller.id.objectID
            try await fund(api, fixture, sms: 10_000, clientSMS: 1)
            for index in 0..<7 {
                let created = try await admin.createAccount(
                    headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(parentId: reseller, kind: .client, name: "Shop \(index), \"Main\" St"))
                ).created.body.json
                _ = try await admin.transferCredits(
                    path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(unit: .sms, amount: Int64(10 * (index + 1)), toAccountId: created.id))
                ).ok
            }
            var names = [String]()
            var cursor: String? = nil
            repeat {
                let page = try await admin.listChildren(path: .init(id: reseller), query: .init(limit: 3, cursor: cursor)).ok.body.json
                names += page.items.map(\.name)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(names.count == 8)
            #expect(names == names.sorted { $0.lowercased() < $1.lowercased() })
            let search = try await admin.listChildren(path: .init(id: reseller), query: .init(search: "shop 3")).ok.body.json
            #expect(search.items.map(\.name) == ["Shop 3, \"Main\" St"])

            var available = [Int64]()
            cursor = nil
            repeat {
                let page = try await admin.listClients(
                    path: .init(id: reseller), query: .init(sort: .smsAvailable, order: .desc, limit: 2, cursor: cursor)
                ).ok.body.json
                available += page.items.map(\.smsAvailable)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(available == [70, 60, 50, 40, 30, 20, 10, 1])
            _ = try await api.typed(fixture.keys[.clientUser]).chargeCredits(
                path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 1))
            ).created
            try await expectEverySortPages(admin, reseller: reseller, count: 8)
            let badSort = try await api.call(.get, "/v1/accounts/\(reseller)/clients?sort=price", key: fixture.keys[.resellerAdmin])
            #expect(badSort.status == .badRequest && badSort.errorField == "sort")
        }
    }

    /// Every sort, both ways, pages through all `count` clients once, in order (name and
    /// available cut the page before summing usage; usage sorts sum it for all).
    func expectEverySortPages(_ admin: Client, reseller: ObjectID, count: Int) async throws {
        for sort in Endpoints.ListClients.Input.Query.SortPayload.allCases {
            for order in Endpoints.ListClients.Input.Query.OrderPayload.allCases {
                var rows = [Components.Schemas.ClientRow]()
                var cursor: String? = nil
                repeat {
                    let page = try await admin.listClients(
                        path: .init(id: reseller), query: .init(sort: sort, order: order, limit: 3, cursor: cursor)
                    ).ok.body.json
                    rows += page.items
                    cursor = page.nextCursor
                } while cursor != nil
                let keys: [String] = rows.map { row in
                    switch sort {
                    case .name: row.name.lowercased()
                    case .smsAvailable: String(format: "%012d", row.smsAvailable)
                    case .smsUsed: String(format: "%012d", row.smsUsedThisMonth)
                    case .mmsAvailable: String(format: "%012d", row.mmsAvailable)
                    case .mmsUsed: String(format: "%012d", row.mmsUsedThisMonth)
                    }
                }
                #expect(Set(rows.map(\.id)).count == count, "\(sort) \(order)")
                #expect(keys == (order == .desc ? keys.sorted(by: >) : keys.sorted()), "\(sort) \(order)")
                if sort == .smsUsed { #expect(rows.map(\.smsUsedThisMonth).contains(1)) }
            }
        }
    }
}
