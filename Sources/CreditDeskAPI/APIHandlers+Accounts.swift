import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Accounts, their features, their users and API keys.
extension APIHandlers {
    func getMe(_ input: Endpoints.GetMe.Input) async throws -> Endpoints.GetMe.Output {
        .ok(.init(body: .json(try await access.read { connection, principal in
            guard let user = try UserStore.findUser(connection, id: principal.userID),
                let account = try AccountStore.find(connection, id: principal.accountID)
            else { throw DomainError.notFound("user") }
            return Components.Schemas.Me(user: .init(user), account: .init(account))
        })))
    }

    func createAccount(_ input: Endpoints.CreateAccount.Input) async throws -> Endpoints.CreateAccount.Output {
        let body = switch input.body { case .json(let body): body }
        let kind: AccountKind = try body.kind.converted()
        let (account, replayed) = try await access.mutate(
            Components.Schemas.Account.self, input: body, status: .created
        ) { connection, principal, operation in
            Components.Schemas.Account(
                try Operations.createAccount(connection, principal, operation, parentID: body.parentId.uuid, kind: kind, name: body.name))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(account)))
    }

    func getAccount(_ input: Endpoints.GetAccount.Input) async throws -> Endpoints.GetAccount.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.Account(try Operations.account(connection, principal, id, for: .read))
        })))
    }

    func updateAccount(_ input: Endpoints.UpdateAccount.Input) async throws -> Endpoints.UpdateAccount.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let status: AccountStatus? = try body.status.converted()
        let (account, replayed) = try await access.mutate(Components.Schemas.Account.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Account(try Operations.updateAccount(connection, principal, operation, id: id, name: body.name, status: status))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(account)))
    }

    func listChildren(_ input: Endpoints.ListChildren.Input) async throws -> Endpoints.ListChildren.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let search = try Parameters.search(input.query.search)
        let cursor = try Cursor.decodeNameAndID(input.query.cursor).map {
            AccountStore.ChildCursor(lowerName: $0.0, id: $0.1)
        }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try Operations.children(
                connection, principal, parentID: id, search: search, after: cursor, limit: limit + 1)
            return Components.Schemas.AccountPage(
                rows: rows, limit: limit, item: Components.Schemas.Account.init,
                cursor: { [$0.name.lowercased(), $0.id.lower] })
        })))
    }

    func getFeatures(_ input: Endpoints.GetFeatures.Input) async throws -> Endpoints.GetFeatures.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.Features(try Operations.account(connection, principal, id, for: .read))
        })))
    }

    func updateFeatures(_ input: Endpoints.UpdateFeatures.Input) async throws -> Endpoints.UpdateFeatures.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let named: [(Feature, Bool?)] = [
            (.mms, body.mms), (.international, body.international), (.campaigns, body.campaigns),
            (.scheduling, body.scheduling), (.inbound, body.inbound),
        ]
        let changes = Dictionary(uniqueKeysWithValues: named.compactMap { feature, value in value.map { (feature, $0) } })
        let (features, replayed) = try await access.mutate(Components.Schemas.Features.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Features(try Operations.setFeatures(connection, principal, operation, id: id, changes: changes))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(features)))
    }

    func createUser(_ input: Endpoints.CreateUser.Input) async throws -> Endpoints.CreateUser.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let role: Role = try body.role.converted()
        let (user, replayed) = try await access.mutate(Components.Schemas.User.self, input: body, status: .created) {
            connection, principal, operation in
            Components.Schemas.User(
                try Operations.createUser(connection, principal, operation, accountID: id, name: body.name, email: body.email, role: role))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(user)))
    }

    func listUsers(_ input: Endpoints.ListUsers.Input) async throws -> Endpoints.ListUsers.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.UserPage(
                all: try Operations.users(connection, principal, accountID: id).map(Components.Schemas.User.init))
        })))
    }

    func createKey(_ input: Endpoints.CreateKey.Input) async throws -> Endpoints.CreateKey.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let scope: KeyScope = try body.scope.converted() ?? .full
        let creator = try Access.principal().limits
        let (key, replayed) = try await access.mutate(Components.Schemas.NewKey.self, input: body, status: .created) {
            connection, principal, operation in
            let limits = try KeyLimits.parse(scope: scope, addresses: body.allowedAddresses ?? [], expiresAt: body.expiresAt)
            let (key, secret) = try Operations.createKey(
                connection, principal, operation, userID: id, label: body.label ?? "", limits: limits, creator: creator)
            return Components.Schemas.NewKey(key: .init(key), secret: secret)
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(key)))
    }

    func setPassword(_ input: Endpoints.SetPassword.Input) async throws -> Endpoints.SetPassword.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        // Hashed before the transaction (bcrypt is slow); the password stays out of the
        // idempotency fingerprint, which is stored.
        let hash = try ConsoleOperations.hashPassword(body.password)
        let (answer, replayed) = try await access.mutate(
            Components.Schemas.PasswordSet.self, input: Optional<String>.none, fingerprint: Array("password".utf8)
        ) { connection, principal, operation in
            let login = try ConsoleOperations.storePassword(connection, principal, operation, userID: id, hash: hash)
            return Components.Schemas.PasswordSet(userId: id.objectID, login: login)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(answer)))
    }

    func listKeys(_ input: Endpoints.ListKeys.Input) async throws -> Endpoints.ListKeys.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.KeyPage(
                all: try Operations.keys(connection, principal, userID: id).map(Components.Schemas.Key.init))
        })))
    }

    func revokeKey(_ input: Endpoints.RevokeKey.Input) async throws -> Endpoints.RevokeKey.Output {
        let id = input.path.id.uuid
        let (key, replayed) = try await access.mutate(Components.Schemas.Key.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.Key(try Operations.revokeKey(connection, principal, operation, keyID: id))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(key)))
    }
}
