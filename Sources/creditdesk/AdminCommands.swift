import ArgumentParser
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Logging

/// Opens the database for a one-shot admin command and closes everything afterwards.
struct AdminSession {
    let pool: DatabasePool
    let handle: DatabaseHandle
    let logger: Logger
    let configuration: AppConfiguration

    static func open(_ options: DatabaseOptions) async throws -> AdminSession {
        let configuration = try options.configuration()
        let logger = configuration.makeLogger()
        let handle = try await DatabaseHandle.open(configuration, logger: logger)
        let pool = DatabasePool(settings: PoolSettings(connection: ConnectionSettings(url: handle.url), size: 2), logger: logger)
        if handle.embedded != nil {
            // The embedded cluster may be brand new: bring it to the current schema first.
            try await configuration.migrator().migrate(pool: pool, logger: logger)
        }
        return AdminSession(pool: pool, handle: handle, logger: logger, configuration: configuration)
    }

    func close() async {
        await pool.shutdown()
        try? await handle.embedded?.stop()
    }

    /// Runs `body`, then closes the session whatever happened.
    static func run<T>(_ options: DatabaseOptions, _ body: (AdminSession) async throws -> T) async throws -> T {
        let session = try await open(options)
        do {
            let value = try await body(session)
            await session.close()
            return value
        } catch {
            await session.close()
            throw error
        }
    }

    /// The principal behind an API key: the CLI acts with exactly the rights that key has in the API.
    func principal(apiKey: String?) async throws -> Principal {
        guard let secret = apiKey ?? configuration.apiKey else {
            throw ValidationError("pass --api-key or set CREDITDESK_API_KEY (creditdesk bootstrap prints the first one)")
        }
        guard let auth = try await pool.withConnection({ try UserStore.authenticate($0, secret: secret) }) else {
            throw ValidationError("the API key is unknown or revoked")
        }
        return auth.principal
    }

    /// The whole life of a mutating command: open the database, act as the key's user, apply
    /// `work` once per idempotency key (`IdempotentMutation`, as the API does), and print what it
    /// did, or, for a replay, what the first run did.
    static func act<T: Sendable>(
        _ options: DatabaseOptions, _ actor: ActorOptions, fingerprint: String,
        describe: @escaping @Sendable (T) -> String,
        _ work: @escaping @Sendable (PostgresConnection, Principal, OperationContext) throws -> T
    ) async throws {
        try await run(options) { session in
            let principal = try await session.principal(apiKey: actor.apiKey)
            let outcome = try await IdempotentMutation.run(
                pool: session.pool, principal: principal, key: actor.key, requestHash: Digest.sha256Hex(fingerprint),
                requestID: "cli", status: 200, render: { .init(body: describe($0)) }
            ) { try work($0, principal, $1) }
            print(outcome.replayed ? "already applied (same --idempotency-key): \(outcome.body)" : outcome.body)
        }
    }

    static func describe(_ entry: EntryRecord) -> String {
        "entry \(entry.id): \(entry.kind.rawValue) \(entry.amount) \(entry.unit.rawValue)"
    }
}

struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the platform account and its first operator; prints the operator's API key once.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The operator's name.") var name = "Platform operator"
    @Option(help: "The operator's email.") var email: String?

    func run() async throws {
        let (platform, user, secret) = try await AdminSession.run(database) { session in
            try await session.pool.withTransaction { connection in
                try Operations.bootstrap(connection, operatorName: name, email: email)
            }
        }
        print("platform account: \(platform.id.uuidString.lowercased())")
        print("operator user:    \(user.id.uuidString.lowercased())")
        print("API key (shown once, store it now): \(secret)")
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the ledger invariants; exits 1 when any is violated.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let violations = try await AdminSession.run(database) { session in
            // One snapshot for all checks, so concurrent traffic cannot show a false mismatch.
            try await session.pool.withTransaction(isolation: .repeatableRead) { try VerifyStore.verify($0) }
        }
        if violations.isEmpty {
            print("ledger OK: balances match entries, no limit breached, every unit sums to zero, keys applied once")
            return
        }
        for violation in violations { print("VIOLATION \(violation)") }
        throw ExitCode(1)
    }
}

/// Options shared by commands that act as a user.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("api-key"), help: "Act as the owner of this key (env CREDITDESK_API_KEY).")
    var apiKey: String?

    @Option(
        name: .customLong("idempotency-key"),
        help: "Makes a retried command apply once (default: a new key, so each run applies).")
    var idempotencyKey: String?

    var key: String { idempotencyKey ?? UUID().uuidString }
}

struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts", abstract: "Create and list accounts.",
        subcommands: [Create.self, List.self, Features.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a reseller or client under a parent.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Parent account id.") var parent: String
        @Option(help: "reseller or client.") var kind: String
        @Option(help: "Display name.") var name: String

        func run() async throws {
            guard let parentID = UUID(uuidString: parent) else { throw ValidationError("--parent must be a UUID") }
            guard let kind = AccountKind(rawValue: kind) else { throw ValidationError("--kind must be reseller or client") }
            let name = self.name
            try await AdminSession.act(
                database, actor, fingerprint: "accounts create \(parentID) \(kind) \(name)",
                describe: { "\($0.id.uuidString.lowercased())\t\($0.kind.rawValue)\t\($0.name)" }
            ) { connection, principal, _ in
                try Operations.createAccount(connection, principal, parentID: parentID, kind: kind, name: name)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the direct children of an account.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Parent account id.") var parent: String
        @Option(help: "Only names containing this.") var search: String?

        func run() async throws {
            guard let parentID = UUID(uuidString: parent) else { throw ValidationError("--parent must be a UUID") }
            try await AdminSession.run(database) { session in
                let principal = try await session.principal(apiKey: actor.apiKey)
                let children = try await session.pool.withTransaction { connection in
                    try Operations.children(
                        connection, principal, parentID: parentID, search: search, after: nil, limit: Limits.maxPageSize)
                }
                for child in children {
                    print("\(child.id.uuidString.lowercased())\t\(child.kind.rawValue)\t\(child.status.rawValue)\t\(child.name)")
                }
            }
        }
    }

    struct Features: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Switch features of a child account.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Account id.") var account: String
        @Option(help: "Feature to switch on (repeatable).") var enable: [String] = []
        @Option(help: "Feature to switch off (repeatable).") var disable: [String] = []

        func run() async throws {
            guard let accountID = UUID(uuidString: account) else { throw ValidationError("account must be a UUID") }
            var changes = [Feature: Bool]()
            for (names, value) in [(enable, true), (disable, false)] {
                for name in names {
                    guard let feature = Feature(rawValue: name) else { throw ValidationError("unknown feature \(name)") }
                    changes[feature] = value
                }
            }
            let changesCopy = changes
            try await AdminSession.act(
                database, actor, fingerprint: "features \(accountID) \(enable) \(disable)",
                describe: { "effective: " + $0.effectiveFeatures.map(\.rawValue).sorted().joined(separator: ",") }
            ) { connection, principal, _ in
                try Operations.setFeatures(connection, principal, id: accountID, changes: changesCopy)
            }
        }
    }
}

struct CreditsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credits", abstract: "Add, remove and transfer credits; show balances.",
        subcommands: [Add.self, Remove.self, Transfer.self, Balances.self])

    struct Amount: ParsableArguments {
        @Option(help: "sms or mms.") var unit: String
        @Option(help: "Whole number of credits.") var amount: Int64

        func parsed() throws -> CreditUnit {
            guard let unit = CreditUnit(rawValue: unit) else { throw ValidationError("--unit must be sms or mms") }
            return unit
        }
    }

    static func adjust(_ database: DatabaseOptions, _ actor: ActorOptions, account: String, unit: CreditUnit, delta: Int64, reason: String)
        async throws
    {
        guard let accountID = UUID(uuidString: account) else { throw ValidationError("account must be a UUID") }
        try await AdminSession.act(
            database, actor, fingerprint: "adjust \(accountID) \(unit) \(delta) \(reason)", describe: AdminSession.describe
        ) { connection, principal, operation in
            try Operations.adjust(
                connection, principal, operation, accountID: accountID, unit: unit, delta: delta, reason: reason)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add credits to an account (from your own pool).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @OptionGroup var amount: Amount
        @Argument(help: "Account id.") var account: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            try await CreditsCommand.adjust(database, actor, account: account, unit: try amount.parsed(), delta: amount.amount, reason: reason)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove credits from an account (back to your pool).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @OptionGroup var amount: Amount
        @Argument(help: "Account id.") var account: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            try await CreditsCommand.adjust(database, actor, account: account, unit: try amount.parsed(), delta: -amount.amount, reason: reason)
        }
    }

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move credits from an account to a direct child.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @OptionGroup var amount: Amount
        @Option(help: "Source account id.") var from: String
        @Option(help: "Destination (a direct child of the source).") var to: String

        func run() async throws {
            guard let fromID = UUID(uuidString: from), let toID = UUID(uuidString: to) else {
                throw ValidationError("--from and --to must be UUIDs")
            }
            let unit = try amount.parsed()
            let credits = amount.amount
            try await AdminSession.act(
                database, actor, fingerprint: "transfer \(fromID) \(toID) \(unit) \(credits)", describe: AdminSession.describe
            ) { connection, principal, operation in
                try Operations.transfer(
                    connection, principal, operation, fromID: fromID, toID: toID, unit: unit, amount: credits, reason: nil)
            }
        }
    }

    struct Balances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an account's balances.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Account id.") var account: String

        func run() async throws {
            guard let accountID = UUID(uuidString: account) else { throw ValidationError("account must be a UUID") }
            try await AdminSession.run(database) { session in
                let principal = try await session.principal(apiKey: actor.apiKey)
                let (_, balances) = try await session.pool.withTransaction { connection in
                    try Operations.balances(connection, principal, accountID: accountID)
                }
                print("unit\tposted\treserved\tavailable\tcredit_limit")
                for balance in balances {
                    print("\(balance.unit.rawValue)\t\(balance.posted)\t\(balance.reserved)\t\(balance.available)\t\(balance.creditLimit)")
                }
            }
        }
    }
}
