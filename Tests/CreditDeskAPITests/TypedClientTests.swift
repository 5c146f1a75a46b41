import CreditDeskContract
import CreditDeskCore
import CreditDeskStore
import Foundation
import OpenAPIRuntime
import Testing

@testable import CreditDeskAPI

/// The money path through the generated client: typed requests, typed answers, typed errors.
@Suite("Typed client")
struct TypedClientTests {
    @Test("a reseller sells a package to a new client, who reserves and posts; replays answer the same")
    func moneyPath() async throws {
        try await withAPI { api, fixture, pool in
            let admin = api.typed(fixture.keys[.resellerAdmin])
            let reseller = fixture.reseller.id.objectID
            let client = try await admin.createAccount(
                headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(parentId: reseller, kind: .client, name: "Harbour Dental"))
            ).created.body.json
            #expect(client.kind == .client && client.parentId == reseller)

            _ = try await api.typed(fixture.keys[.platformOperator]).adjustCredits(
                path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 5_000, reason: "opening stock"))
            ).ok
            let package = try await admin.createPackage(
                path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(
                    value1: .init(name: "Starter", smsCredits: 1_000, priceMinor: 4_900, currency: "EUR"),
                    value2: .init(value1: .init(smsCredits: 1_000))))
            ).created.body.json
            let saleKey = freshKey()
            let sale = try await admin.sellPackage(
                path: .init(id: client.id), headers: .init(idempotencyKey: saleKey),
                body: .json(.init(packageId: package.id))
            ).created
            #expect(sale.headers.idempotentReplayed == nil)
            let replay = try await admin.sellPackage(
                path: .init(id: client.id), headers: .init(idempotencyKey: saleKey),
                body: .json(.init(packageId: package.id))
            ).created
            #expect(replay.headers.idempotentReplayed == ._true)
            #expect(try replay.body.json == sale.body.json)

            let officeKey = try await pool.withTransaction { connection in
                let account = try #require(try AccountStore.find(connection, id: client.id.uuid))
                let user = try UserStore.createUser(connection, account: account, name: "Desk", email: nil, role: .user)
                return try UserStore.createKey(connection, user: user, label: "desk").secret
            }
            let office = api.typed(officeKey)
            let reservation = try await office.reserveCredits(
                path: .init(id: client.id), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 3, reference: "reminder"))
            ).created.body.json
            #expect(reservation.status == .pending)
            let posted = try await office.postReservation(
                path: .init(id: reservation.id), headers: .init(idempotencyKey: freshKey()), body: .json(.init(amount: 2))
            ).ok.body.json
            #expect(posted.postedAmount == 2)
            let balances = try await office.getBalances(path: .init(id: client.id)).ok.body.json
            let sms = try #require(balances.balances.first { $0.unit == .sms })
            #expect(sms.posted == 998 && sms.reserved == 0 && sms.available == 998)
            try await verifyClean(pool)
        }
    }

    @Test("errors arrive as the contract's typed error with a stable code")
    func typedErrors() async throws {
        try await withAPI { api, fixture, _ in
            let office = api.typed(fixture.keys[.clientAdmin])
            let client = fixture.client.id.objectID
            let tooMuch = try await office.reserveCredits(
                path: .init(id: client), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 1_000_000_000)))
            #expect(try tooMuch.conflict.body.json.error.code == "insufficient_credits")
            let foreign = try await office.getBalances(path: .init(id: fixture.otherClient.id.objectID))
            #expect(try foreign.notFound.body.json.error.code == "not_found")
            let anonymous = try await api.typed(nil).getMe()
            #expect(try anonymous.unauthorized.body.json.error.code == "unauthorized")
            let readonly = try await api.typed(fixture.keys[.clientReadonly]).chargeCredits(
                path: .init(id: client), headers: .init(idempotencyKey: freshKey()),
                body: .json(.init(unit: .sms, amount: 1, reason: "try")))
            #expect(try readonly.forbidden.body.json.error.code == "forbidden")
        }
    }

    @Test("the contract's enums and the core's have the same cases")
    func enumPairs() {
        func same<A: CaseIterable & RawRepresentable, B: CaseIterable & RawRepresentable>(_: A.Type, _: B.Type) -> Bool
        where A.RawValue == String, B.RawValue == String {
            Set(A.allCases.map(\.rawValue)) == Set(B.allCases.map(\.rawValue))
        }
        typealias Wire = Components.Schemas
        #expect(same(Wire.AccountKind.self, AccountKind.self))
        #expect(same(Wire.AccountStatus.self, AccountStatus.self))
        #expect(same(Wire.Role.self, Role.self))
        #expect(same(Wire.Feature.self, Feature.self))
        #expect(same(Wire.CreditUnit.self, CreditUnit.self))
        #expect(same(Wire.EntryKind.self, EntryKind.self))
        #expect(same(Wire.ReservationStatus.self, ReservationStatus.self))
        #expect(same(Wire.MessageDirection.self, MessageDirection.self))
        #expect(same(Wire.MessageStatus.self, MessageStatus.self))
        #expect(same(Wire.GatewayProvider.self, GatewayProvider.self))
        #expect(same(Wire.CampaignStatus.self, CampaignStatus.self))
        #expect(same(Wire.ReplyChannel.self, ReplyChannel.self))
        #expect(same(Wire.PhoneField.self, ContactPhoneField.self))
        #expect(same(Endpoints.ListClients.Input.Query.SortPayload.self, OverviewSort.self))
        #expect(same(Endpoints.GetUsage.Input.Query.GroupPayload.self, UsageGrouping.self))
        #expect(same(Endpoints.GetUsage.Input.Query.ScopePayload.self, UsageScope.self))
    }
}

/// What the generated server refuses before a handler runs still answers the JSON error shape,
/// naming the field, and changes nothing.
@Suite("Contract decoding errors")
struct ContractDecodingErrorTests {
    @Test("each kind of bad body, parameter and header is a 400 naming what is wrong")
    func badRequests() async throws {
        try await withAPI { api, fixture, pool in
            let key = fixture.keys[.platformOperator]
            let client = fixture.client.id.lower
            let adjust = "/v1/accounts/\(client)/credits/adjust"
            let cases: [(String, [String: Any]?, String?, String, String)] = [
                (adjust, ["unit": "fax", "amount": 1, "reason": "x"], nil, "invalid_field", "unit"),
                (adjust, ["unit": "sms", "amount": "ten", "reason": "x"], nil, "invalid_field", "amount"),
                (adjust, ["unit": "sms", "amount": 1.5, "reason": "x"], nil, "invalid_field", "amount"),
                (adjust, ["unit": "sms", "reason": "x"], nil, "invalid_field", "amount"),
                (adjust, ["unit": "sms", "amount": 1, "reason": "x", "memo": "y"], nil, "unknown_field", "memo"),
                ("/v1/accounts", ["parent_id": "not-a-uuid", "kind": "client", "name": "X"], nil, "invalid_field", "parent_id"),
                ("/v1/accounts/\(client)/contacts/batch", ["contacts": [["first_name": "A", "nickname": "B"]]], nil,
                 "unknown_field", "contacts[0].nickname"),
                ("/v1/accounts/not-a-uuid/credits/adjust", ["unit": "sms", "amount": 1, "reason": "x"], nil,
                 "invalid_parameter", "id"),
            ]
            for (path, body, raw, code, field) in cases {
                let reply = try await api.call(.post, path, key: key, body: body, rawBody: raw)
                #expect(reply.status == .badRequest, "\(path) \(String(describing: body))")
                #expect(reply.errorCode == code, "\(path) \(String(describing: body)): \(reply.errorCode ?? "")")
                #expect(reply.errorField == field, "\(path): \(reply.text)")
            }
            let queries = ["limit=abc": "limit", "unit=fax": "unit", "from=yesterday": "from", "kind=": "kind"]
            for (query, field) in queries {
                let reply = try await api.call(.get, "/v1/accounts/\(client)/entries?\(query)", key: key)
                #expect(reply.status == .badRequest, "\(query)")
                #expect(reply.errorCode == "invalid_parameter", "\(query): \(reply.errorCode ?? "")")
                #expect(reply.errorField == field, "\(query)")
            }
            let noKey = try await api.call(
                .post, adjust, key: key, body: ["unit": "sms", "amount": 1, "reason": "x"], idempotencyKey: nil)
            #expect(noKey.errorCode == "idempotency_key_required")
            try await verifyClean(pool)
            let entries = try await api.call(.get, "/v1/accounts/\(client)/entries", key: key)
            #expect(try entries.decode(Components.Schemas.EntryPage.self).items.isEmpty)
        }
    }
}
