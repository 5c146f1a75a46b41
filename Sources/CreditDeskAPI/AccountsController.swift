import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Accounts, their features, their users and API keys.
struct AccountsController {
    let access: Access

    struct CreateAccount: Decodable {
        static let fields: Set<String> = ["parent_id", "kind", "name"]
        let parentId: UUID
        let kind: AccountKind
        let name: String
    }

    struct UpdateAccount: Decodable {
        static let fields: Set<String> = ["name", "status"]
        let name: String?
        let status: AccountStatus?
    }

    struct CreateUser: Decodable {
        static let fields: Set<String> = ["name", "email", "role"]
        let name: String
        let email: String?
        let role: Role
    }

    struct CreateKey: Decodable {
        static let fields: Set<String> = ["label"]
        let label: String?
    }

    struct FeaturesDTO: Encodable, Sendable {
        let accountId: String
        let features: [String: Bool]
        let effective: [String: Bool]

        init(_ account: AccountRecord) {
            accountId = account.id.lower
            features = Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, account.ownFeatures.contains($0)) })
            effective = Dictionary(
                uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, account.effectiveFeatures.contains($0)) })
        }
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me") { _, context in
            try await access.read(context) { connection, principal in
                guard let user = try UserStore.findUser(connection, id: principal.userID),
                    let account = try AccountStore.find(connection, id: principal.accountID)
                else { throw DomainError.notFound("user") }
                return MeDTO(user: UserDTO(user), account: AccountDTO(account))
            }
        }
        router.post("/v1/accounts") { request, context in
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateAccount.self, from: body, fields: CreateAccount.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                AccountDTO(
                    try Operations.createAccount(
                        connection, principal, parentID: input.parentId, kind: input.kind, name: input.name))
            }
        }
        router.get("/v1/accounts/:id") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                AccountDTO(try Operations.account(connection, principal, id, for: .read))
            }
        }
        router.patch("/v1/accounts/:id") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(UpdateAccount.self, from: body, fields: UpdateAccount.fields)
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                AccountDTO(try Operations.updateAccount(connection, principal, id: id, name: input.name, status: input.status))
            }
        }
        router.get("/v1/accounts/:id/children") { request, context in
            let id = try Parameters.uuid(context, "id")
            let limit = try Parameters.limit(request)
            let search = try Parameters.search(request)
            let cursor = try Cursor.decodeNameAndID(request).map { AccountStore.ChildCursor(lowerName: $0.0, id: $0.1) }
            return try await access.read(context) { connection, principal in
                let rows = try Operations.children(
                    connection, principal, parentID: id, search: search, after: cursor, limit: limit + 1)
                return Page(
                    rows: rows, limit: limit, item: AccountDTO.init, cursor: { [$0.name.lowercased(), $0.id.lower] })
            }
        }
        router.get("/v1/accounts/:id/features") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                FeaturesDTO(try Operations.account(connection, principal, id, for: .read))
            }
        }
        router.patch("/v1/accounts/:id/features") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(
                [String: Bool].self, from: body, fields: Set(Feature.allCases.map(\.rawValue)))
            let changes = Dictionary(uniqueKeysWithValues: input.compactMap { key, value in
                Feature(rawValue: key).map { ($0, value) }
            })
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                FeaturesDTO(try Operations.setFeatures(connection, principal, id: id, changes: changes))
            }
        }
        router.post("/v1/accounts/:id/users") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateUser.self, from: body, fields: CreateUser.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                UserDTO(
                    try Operations.createUser(
                        connection, principal, accountID: id, name: input.name, email: input.email, role: input.role))
            }
        }
        router.get("/v1/accounts/:id/users") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                Page(items: try Operations.users(connection, principal, accountID: id).map(UserDTO.init), nextCursor: nil)
            }
        }
        router.post("/v1/users/:id/keys") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            let input = try Body.decode(CreateKey.self, from: body, fields: CreateKey.fields)
            return try await access.mutate(request, context, body: body, status: .created) { connection, principal, _ in
                let (key, secret) = try Operations.createKey(connection, principal, userID: id, label: input.label ?? "")
                return NewKeyDTO(key: KeyDTO(key), secret: secret)
            }
        }
        router.get("/v1/users/:id/keys") { _, context in
            let id = try Parameters.uuid(context, "id")
            return try await access.read(context) { connection, principal in
                Page(items: try Operations.keys(connection, principal, userID: id).map(KeyDTO.init), nextCursor: nil)
            }
        }
        router.delete("/v1/keys/:id") { request, context in
            let id = try Parameters.uuid(context, "id")
            let body = try await Body.collect(request, context)
            _ = try Body.decode(CreditsController.Empty.self, from: body, fields: [])
            return try await access.mutate(request, context, body: body) { connection, principal, _ in
                KeyDTO(try Operations.revokeKey(connection, principal, keyID: id))
            }
        }
    }
}
