import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Packages and the ledger operations: balances, moves, reservations, history.
extension APIHandlers {
    func listPackages(_ input: Endpoints.ListPackages.Input) async throws -> Endpoints.ListPackages.Output {
        let id = input.path.id.uuid
        let active = input.query.active.map { $0 == ._true }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Page(
                items: try Operations.packages(connection, principal, accountID: id, active: active).map(PackageDTO.init),
                nextCursor: nil)
        })))
    }

    func createPackage(_ input: Endpoints.CreatePackage.Input) async throws -> Endpoints.CreatePackage.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body.value1 }
        let (package, replayed) = try await access.mutate(Components.Schemas.Package.self, input: body, status: .created) {
            connection, principal, _ in
            PackageDTO(
                try Operations.createPackage(
                    connection, principal, accountID: id, name: body.name, smsCredits: body.smsCredits ?? 0,
                    mmsCredits: body.mmsCredits ?? 0, priceMinor: body.priceMinor, currency: body.currency,
                    active: body.active ?? true))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(package)))
    }

    func updatePackage(_ input: Endpoints.UpdatePackage.Input) async throws -> Endpoints.UpdatePackage.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let (package, replayed) = try await access.mutate(Components.Schemas.Package.self, input: body) {
            connection, principal, _ in
            PackageDTO(try Operations.updatePackage(connection, principal, id: id, name: body.name, active: body.active))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(package)))
    }

    func sellPackage(_ input: Endpoints.SellPackage.Input) async throws -> Endpoints.SellPackage.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (sale, replayed) = try await access.mutate(Components.Schemas.Sale.self, input: body, status: .created) {
            connection, principal, operation in
            let (sale, entries) = try Operations.sellPackage(
                connection, principal, operation, buyerID: id, packageID: body.packageId.uuid)
            return SaleDTO(
                id: sale.id.lower, packageId: sale.packageID.lower, sellerId: sale.sellerID.lower,
                buyerId: sale.buyerID.lower, smsCredits: sale.smsCredits, mmsCredits: sale.mmsCredits,
                priceMinor: sale.priceMinor, currency: sale.currency, createdAt: sale.createdAt,
                entries: entries.map(EntryDTO.init))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(sale)))
    }

    func getBalances(_ input: Endpoints.GetBalances.Input) async throws -> Endpoints.GetBalances.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let (account, balances) = try Operations.balances(connection, principal, accountID: id)
            return BalancesDTO(accountId: account.id.lower, balances: balances.map(BalanceDTO.init))
        })))
    }

    func adjustCredits(_ input: Endpoints.AdjustCredits.Input) async throws -> Endpoints.AdjustCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body) {
            connection, principal, operation in
            EntryDTO(
                try Operations.adjust(
                    connection, principal, operation, accountID: id, unit: unit, delta: body.amount, reason: body.reason))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(entry)))
    }

    func transferCredits(_ input: Endpoints.TransferCredits.Input) async throws -> Endpoints.TransferCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body) {
            connection, principal, operation in
            EntryDTO(
                try Operations.transfer(
                    connection, principal, operation, fromID: id, toID: body.toAccountId.uuid, unit: unit,
                    amount: body.amount, reason: body.reason))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(entry)))
    }

    func setCreditLimit(_ input: Endpoints.SetCreditLimit.Input) async throws -> Endpoints.SetCreditLimit.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (balance, replayed) = try await access.mutate(Components.Schemas.Balance.self, input: body) {
            connection, principal, _ in
            BalanceDTO(try Operations.setCreditLimit(connection, principal, accountID: id, unit: unit, limit: body.creditLimit))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(balance)))
    }

    func chargeCredits(_ input: Endpoints.ChargeCredits.Input) async throws -> Endpoints.ChargeCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body, status: .created) {
            connection, principal, operation in
            EntryDTO(
                try Operations.charge(
                    connection, principal, operation, accountID: id, unit: unit, amount: body.amount, reason: body.reason))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(entry)))
    }

    func expireCredits(_ input: Endpoints.ExpireCredits.Input) async throws -> Endpoints.ExpireCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body, status: .created) {
            connection, principal, operation in
            EntryDTO(
                try Operations.expire(
                    connection, principal, operation, accountID: id, unit: unit, amount: body.amount, reason: body.reason))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(entry)))
    }

    func refundEntry(_ input: Endpoints.RefundEntry.Input) async throws -> Endpoints.RefundEntry.Output {
        let id = try Parameters.positive(input.path.id, "id")
        let body = switch input.body { case .json(let body): body }
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body, status: .created) {
            connection, principal, operation in
            EntryDTO(
                try Operations.refund(connection, principal, operation, entryID: id, amount: body.amount, reason: body.reason))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(entry)))
    }

    func listEntries(_ input: Endpoints.ListEntries.Input) async throws -> Endpoints.ListEntries.Output {
        let id = input.path.id.uuid
        let query = input.query
        let limit = try Parameters.limit(query.limit)
        let unit: CreditUnit? = try query.unit.converted()
        let kind: EntryKind? = try query.kind.converted()
        let before = try Cursor.decodeKey(query.cursor) { Int64($0) }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try Operations.entries(
                connection, principal, accountID: id, unit: unit, kind: kind, from: query.from, to: query.to,
                beforeID: before, limit: limit + 1)
            return Page(rows: rows, limit: limit, item: EntryDTO.init, cursor: { [String($0.id)] })
        })))
    }
}
