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
            Components.Schemas.PackagePage(
                all: try Operations.packages(connection, principal, accountID: id, active: active)
                    .map(Components.Schemas.Package.init))
        })))
    }

    func createPackage(_ input: Endpoints.CreatePackage.Input) async throws -> Endpoints.CreatePackage.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body.value1 }
        let (package, replayed) = try await access.mutate(Components.Schemas.Package.self, input: body, status: .created) {
            connection, principal, operation in
            Components.Schemas.Package(
                try Operations.createPackage(
                    connection, principal, operation, accountID: id, name: body.name, smsCredits: body.smsCredits ?? 0,
                    mmsCredits: body.mmsCredits ?? 0, priceMinor: body.priceMinor, currency: body.currency,
                    active: body.active ?? true))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(package)))
    }

    func updatePackage(_ input: Endpoints.UpdatePackage.Input) async throws -> Endpoints.UpdatePackage.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let (package, replayed) = try await access.mutate(Components.Schemas.Package.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Package(try Operations.updatePackage(connection, principal, operation, id: id, name: body.name, active: body.active))
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
            return Components.Schemas.Sale(sale, entries: entries)
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(sale)))
    }

    func getBalances(_ input: Endpoints.GetBalances.Input) async throws -> Endpoints.GetBalances.Output {
        let id = input.path.id.uuid
        // The account and its balances are one round trip (`Operations.balances`).
        return .ok(.init(body: .json(try await access.read(transaction: false) { connection, principal in
            let (account, balances) = try Operations.balances(connection, principal, accountID: id)
            return Components.Schemas.Balances(
                accountId: account.id.objectID, balances: balances.map(Components.Schemas.Balance.init))
        })))
    }

    func adjustCredits(_ input: Endpoints.AdjustCredits.Input) async throws -> Endpoints.AdjustCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (answer, replayed) = try await access.mutate(MovementAnswer.self, input: body) { connection, principal, operation in
            MovementAnswer(
                try Operations.adjust(
                    connection, principal, operation, accountID: id, unit: unit, delta: body.amount, reason: body.reason))
        }
        if let approval = answer.approval {
            return .accepted(.init(headers: .init(idempotentReplayed: replayed), body: .json(approval)))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(try answer.entry.unwrapped())))
    }

    func transferCredits(_ input: Endpoints.TransferCredits.Input) async throws -> Endpoints.TransferCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (answer, replayed) = try await access.mutate(MovementAnswer.self, input: body) { connection, principal, operation in
            MovementAnswer(
                try Operations.transfer(
                    connection, principal, operation, fromID: id, toID: body.toAccountId.uuid, unit: unit,
                    amount: body.amount, reason: body.reason))
        }
        if let approval = answer.approval {
            return .accepted(.init(headers: .init(idempotentReplayed: replayed), body: .json(approval)))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(try answer.entry.unwrapped())))
    }

    func setCreditLimit(_ input: Endpoints.SetCreditLimit.Input) async throws -> Endpoints.SetCreditLimit.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (balance, replayed) = try await access.mutate(Components.Schemas.Balance.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Balance(try Operations.setCreditLimit(connection, principal, operation, accountID: id, unit: unit, limit: body.creditLimit))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(balance)))
    }

    func chargeCredits(_ input: Endpoints.ChargeCredits.Input) async throws -> Endpoints.ChargeCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (entry, replayed) = try await access.mutate(Components.Schemas.Entry.self, input: body, status: .created) {
            connection, principal, operation in
            Components.Schemas.Entry(
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
            Components.Schemas.Entry(
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
            Components.Schemas.Entry(
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
            return Components.Schemas.EntryPage(
                rows: rows, limit: limit, item: Components.Schemas.Entry.init, cursor: { [String($0.id)] })
        })))
    }
}
