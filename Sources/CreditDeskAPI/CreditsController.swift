import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Packages, the ledger operations, balances, history and overviews.
struct CreditsController {
    let access: Access

    struct CreatePackage: Decodable {
        static let fields: Set<String> = ["name", "sms_credits", "mms_credits", "price_minor", "currency", "active"]
        let name: String
        let smsCredits: Int64?
        let mmsCredits: Int64?
        let priceMinor: Int64
        let currency: String
        let active: Bool?
    }

    struct UpdatePackage: Decodable {
        static let fields: Set<String> = ["name", "active"]
        let name: String?
        let active: Bool?
    }

    struct SellPackage: Decodable {
        static let fields: Set<String> = ["package_id"]
        let packageId: UUID
    }

    struct Adjust: Decodable {
        static let fields: Set<String> = ["unit", "amount", "reason"]
        let unit: CreditUnit
        let amount: Int64
        let reason: String?
    }

    struct Transfer: Decodable {
        static let fields: Set<String> = ["unit", "amount", "to_account_id", "reason"]
        let unit: CreditUnit
        let amount: Int64
        let toAccountId: UUID
        let reason: String?
    }

    struct CreditLimit: Decodable {
        static let fields: Set<String> = ["unit", "credit_limit"]
        let unit: CreditUnit
        let creditLimit: Int64
    }

    struct Reserve: Decodable {
        static let fields: Set<String> = ["unit", "amount", "reference"]
        let unit: CreditUnit
        let amount: Int64
        let reference: String?
    }

    struct ReserveBatch: Decodable {
        static let fields: Set<String> = ["unit", "items"]
        struct Item: Decodable {
            let amount: Int64
            let reference: String?
        }
        let unit: CreditUnit
        let items: [Item]

        /// The request's fingerprint input, built from the decoded values: as insensitive to
        /// key order and whitespace as canonical JSON, without re-parsing megabytes of it.
        var canonical: [UInt8] {
            var bytes = Array("bulk \(unit.rawValue) \(items.count)\n".utf8)
            bytes.reserveCapacity(items.count * 32)
            for item in items {
                bytes += "\(item.amount)\t".utf8
                // A reference is printed with its length so that no text can forge a boundary.
                if let reference = item.reference { bytes += "\(reference.utf8.count):\(reference)".utf8 }
                bytes.append(0x0A)
            }
            return bytes
        }
    }

    struct Post: Decodable {
        static let fields: Set<String> = ["amount"]
        let amount: Int64?
    }

    struct Charge: Decodable {
        static let fields: Set<String> = ["unit", "amount", "reason"]
        let unit: CreditUnit
        let amount: Int64
        let reason: String?
    }

    struct Expire: Decodable {
        static let fields: Set<String> = ["unit", "amount", "reason"]
        let unit: CreditUnit
        /// All unreserved credits when absent.
        let amount: Int64?
        let reason: String?
    }

    struct Refund: Decodable {
        static let fields: Set<String> = ["amount", "reason"]
        let amount: Int64?
        let reason: String?
    }

    struct Empty: Decodable {}

    func addRoutes(to router: Router<AppRequestContext>) {
        addPackageRoutes(to: router)
        addLedgerRoutes(to: router)
        addOverviewRoutes(to: router)
    }

    func addPackageRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/accounts/:id/packages") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreatePackage.self, from: body, fields: CreatePackage.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                PackageDTO(
                    try Operations.createPackage(
                        connection, principal, accountID: id, name: input.name, smsCredits: input.smsCredits ?? 0,
                        mmsCredits: input.mmsCredits ?? 0, priceMinor: input.priceMinor, currency: input.currency,
                        active: input.active ?? true))
            }
        }
        router.get("/v1/accounts/:id/packages") { request, context in
            let id = try Parameters.uuid(context, "id")
            let active: Bool? =
                switch Parameters.typed(request, "active") {
                case nil: nil
                case "true": true
                case "false": false
                default:
                    throw APIError.badRequest(code: "invalid_parameter", "active must be true or false", details: ["field": "active"])
                }
            return try await access.read(context) { connection, principal in
                Page(
                    items: try Operations.packages(connection, principal, accountID: id, active: active).map(PackageDTO.init),
                    nextCursor: nil)
            }
        }
        router.patch("/v1/packages/:id") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(UpdatePackage.self, from: body, fields: UpdatePackage.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                PackageDTO(try Operations.updatePackage(connection, principal, id: id, name: input.name, active: input.active))
            }
        }
        router.post("/v1/accounts/:id/package-sales") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(SellPackage.self, from: body, fields: SellPackage.fields)
            return try await access.mutate(request, context, body: body, status: .created) {
                connection, principal, operation in
                let (sale, entries) = try Operations.sellPackage(
                    connection, principal, operation, buyerID: id, packageID: input.packageId)
                return SaleDTO(
                    id: sale.id.lower, packageId: sale.packageID.lower, sellerId: sale.sellerID.lower,
                    buyerId: sale.buyerID.lower, smsCredits: sale.smsCredits, mmsCredits: sale.mmsCredits,
                    priceMinor: sale.priceMinor, currency: sale.currency, createdAt: sale.createdAt,
                    entries: entries.map(EntryDTO.init))
            }
        }
    }

    func addLedgerRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/accounts/:id/balances") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                let (account, balances) = try Operations.balances(connection, principal, accountID: id)
                return BalancesDTO(accountId: account.id.lower, balances: balances.map(BalanceDTO.init))
            }
        }
        router.post("/v1/accounts/:id/credits/adjust") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Adjust.self, from: body, fields: Adjust.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                EntryDTO(
                    try Operations.adjust(
                        connection, principal, operation, accountID: id, unit: input.unit, delta: input.amount,
                        reason: input.reason))
            }
        }
        router.post("/v1/accounts/:id/credits/transfer") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Transfer.self, from: body, fields: Transfer.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                EntryDTO(
                    try Operations.transfer(
                        connection, principal, operation, fromID: id, toID: input.toAccountId, unit: input.unit,
                        amount: input.amount, reason: input.reason))
            }
        }
        router.put("/v1/accounts/:id/credit-limit") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreditLimit.self, from: body, fields: CreditLimit.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                BalanceDTO(
                    try Operations.setCreditLimit(
                        connection, principal, accountID: id, unit: input.unit, limit: input.creditLimit))
            }
        }
        router.post("/v1/accounts/:id/reservations") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Reserve.self, from: body, fields: Reserve.fields)
            return try await access.mutate(request, context, body: body, status: .created) {
                connection, principal, operation in
                ReservationDTO(
                    try Operations.reserve(
                        connection, principal, operation, accountID: id, unit: input.unit, amount: input.amount,
                        reference: input.reference))
            }
        }
        router.post("/v1/accounts/:id/reservations/bulk") { request, context in
            let id = try Parameters.uuid(context, "id")
            // The raw body is not kept: the decoded items are the request (and its fingerprint).
            let input = try Body.decode(
                ReserveBatch.self, from: try await Body.collect(request, context, limit: Limits.maxBulkBodyBytes),
                fields: ReserveBatch.fields)
            // A bulk request holds megabytes transiently; hand the freed pages back afterwards.
            defer { Memory.releaseFreedPages() }
            return try await access.mutate(request, context, body: [], canonicalBody: input.canonical, status: .created) {
                connection, principal, operation in
                ReservationBatchDTO(
                    try Operations.reserveBatch(
                        connection, principal, operation, accountID: id, unit: input.unit,
                        items: input.items.map { ($0.amount, $0.reference) }))
            }
        }
        router.get("/v1/accounts/:id/reservations") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let status = try Parameters.enumValue(request, "status", ReservationStatus.self)
            let batchID = try Parameters.uuid(request, "batch_id")
            let after = try Cursor.decodeKey(request, UUID.init(uuidString:))
            return try await access.read(context) { connection, principal in
                let rows = try Operations.reservations(
                    connection, principal, accountID: id, status: status, batchID: batchID, afterID: after,
                    limit: limit + 1)
                return Page(rows: rows, limit: limit, item: ReservationDTO.init, cursor: { [$0.id.lower] })
            }
        }
        router.post("/v1/reservations/:id/post") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Post.self, from: body, fields: Post.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                ReservationDTO(try Operations.post(connection, principal, operation, reservationID: id, amount: input.amount))
            }
        }
        router.post("/v1/reservations/:id/void") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            _ = try Body.decode(Empty.self, from: body, fields: [])
            return try await access.mutate(request, context, body: body) { connection, principal, operation in
                ReservationDTO(try Operations.void(connection, principal, operation, reservationID: id))
            }
        }
        router.post("/v1/accounts/:id/charges") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Charge.self, from: body, fields: Charge.fields)
            return try await access.mutate(request, context, body: body, status: .created) {
                connection, principal, operation in
                EntryDTO(
                    try Operations.charge(
                        connection, principal, operation, accountID: id, unit: input.unit, amount: input.amount,
                        reason: input.reason))
            }
        }
        router.post("/v1/accounts/:id/credits/expire") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Expire.self, from: body, fields: Expire.fields)
            return try await access.mutate(request, context, body: body, status: .created) {
                connection, principal, operation in
                EntryDTO(
                    try Operations.expire(
                        connection, principal, operation, accountID: id, unit: input.unit, amount: input.amount,
                        reason: input.reason))
            }
        }
        router.post("/v1/entries/:id/refund") { request, context in
            let id = try Parameters.int64(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(Refund.self, from: body, fields: Refund.fields)
            return try await access.mutate(request, context, body: body, status: .created) {
                connection, principal, operation in
                EntryDTO(
                    try Operations.refund(
                        connection, principal, operation, entryID: id, amount: input.amount, reason: input.reason))
            }
        }
        router.get("/v1/accounts/:id/entries") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let unit = try Parameters.enumValue(request, "unit", CreditUnit.self)
            let kind = try Parameters.enumValue(request, "kind", EntryKind.self)
            let from = try Parameters.date(request, "from")
            let to = try Parameters.date(request, "to")
            let before = try Cursor.decodeKey(request) { Int64($0) }
            return try await access.read(context) { connection, principal in
                let rows = try Operations.entries(
                    connection, principal, accountID: id, unit: unit, kind: kind, from: from, to: to, beforeID: before,
                    limit: limit + 1)
                return Page(rows: rows, limit: limit, item: EntryDTO.init, cursor: { [String($0.id)] })
            }
        }
    }

    func addOverviewRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/accounts/:id/clients") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let search = try Parameters.search(request)
            let sort = try Parameters.enumValue(request, "sort", OverviewSort.self) ?? .name
            let descending: Bool =
                switch Parameters.typed(request, "order") {
                case nil, "asc": false
                case "desc": true
                default:
                    throw APIError.badRequest(code: "invalid_parameter", "order must be asc or desc", details: ["field": "order"])
                }
            let cursor = try Cursor.decode(request, count: 2).map { parts in
                guard let id = UUID(uuidString: parts[1]), sort == .name || Int64(parts[0]) != nil else {
                    throw APIError.badRequest(code: "invalid_parameter", "cursor is not one this API issued")
                }
                return OverviewCursor(sortValue: parts[0], id: id)
            }
            return try await access.read(context) { connection, principal in
                _ = try Operations.account(connection, principal, id, for: .read)
                let rows = try OverviewStore.clients(
                    connection, resellerID: id, search: search, sort: sort, descending: descending, after: cursor,
                    limit: limit + 1, periodStart: OverviewStore.monthStart(of: Date()))
                return Page(rows: rows, limit: limit, item: { ClientRowDTO($0.0) }, cursor: { [$0.sortValue, $0.0.id.lower] })
            }
        }
        router.get("/v1/accounts/:id/dashboard") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                let (account, balances) = try Operations.balances(connection, principal, accountID: id)
                let dashboard = try OverviewStore.dashboard(
                    connection, accountID: account.id, periodStart: OverviewStore.monthStart(of: Date()))
                return DashboardDTO(
                    accountId: account.id.lower, periodStart: dashboard.periodStart, smsUsed: dashboard.smsUsed,
                    mmsUsed: dashboard.mmsUsed, clients: dashboard.clients, resellers: dashboard.resellers,
                    balances: balances.map(BalanceDTO.init))
            }
        }
    }
}
