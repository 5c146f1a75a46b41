import ArgumentParser
import CreditDesk
import CreditDeskServices
import Foundation

/// Opens the database for a one-shot admin command, through the library as any embedding
/// server would, and closes everything afterwards.
struct AdminSession {
    let desk: Desk
    let configuration: AppConfiguration

    static func open(_ options: DatabaseOptions) async throws -> AdminSession {
        let configuration = try options.configuration()
        let logger = configuration.makeLogger()
        let handle = try await DatabaseHandle.open(configuration, logger: logger)
        let desk = try await Desk.open(url: handle.url, embedded: handle.embedded, connections: 2, migrate: false, logger: logger)
        if handle.embedded != nil {
            // The embedded cluster may be brand new: bring it to the current schema first.
            do {
                try await configuration.migrator().migrate(pool: desk.pool, logger: logger)
            } catch {
                await desk.close()
                throw error
            }
        }
        return AdminSession(desk: desk, configuration: configuration)
    }

    /// Runs `body`, then closes the session whatever happened.
    static func run<T>(_ options: DatabaseOptions, _ body: (AdminSession) async throws -> T) async throws -> T {
        let session = try await open(options)
        do {
            let value = try await body(session)
            await session.desk.close()
            return value
        } catch {
            await session.desk.close()
            throw error
        }
    }

    /// The owner of an API key: the CLI acts with exactly the rights that key has in the API.
    func session(apiKey: String?) async throws -> Session {
        guard let secret = apiKey ?? configuration.apiKey else {
            throw ValidationError("pass --api-key or set CREDITDESK_API_KEY (creditdesk bootstrap prints the first one)")
        }
        return try await desk.session(apiKey: secret)
    }

    /// A read-only command: open, act as the key's user, run `body`.
    static func read(
        _ options: DatabaseOptions, _ actor: ActorOptions, _ body: (Session) async throws -> Void
    ) async throws {
        try await run(options) { try await body(try await $0.session(apiKey: actor.apiKey)) }
    }

    /// The whole life of a mutating command: open the database, act as the key's user, apply
    /// `call` once per idempotency key, and print what it did, or, for a replay, what the
    /// first run did.
    static func act<T: Sendable>(
        _ options: DatabaseOptions, _ actor: ActorOptions, describe: @escaping @Sendable (T) -> String,
        _ call: @escaping (Session, String) async throws -> T
    ) async throws {
        try await run(options) { admin in
            let session = try await admin.session(apiKey: actor.apiKey)
            let (result, replayed) = try await Session.noticingReplays { try await call(session, actor.key) }
            print(replayed ? "already applied (same --idempotency-key): \(describe(result))" : describe(result))
        }
    }

    static func describe(_ entry: Entry) -> String {
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
        let (session, secret) = try await AdminSession.run(database) { admin in
            try await admin.desk.bootstrap(operatorName: name, email: email)
        }
        print("platform account: \(session.accountID.uuidString.lowercased())")
        print("operator user:    \(session.userID.uuidString.lowercased())")
        print("API key (shown once, store it now): \(secret)")
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the ledger invariants; exits 1 when any is violated.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        // One snapshot for all checks, so concurrent traffic cannot show a false mismatch.
        let violations = try await AdminSession.run(database) { try await $0.desk.verify() }
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
                database, actor, describe: { "\($0.id.uuidString.lowercased())\t\($0.kind.rawValue)\t\($0.name)" }
            ) { session, key in
                try await session.createAccount(under: parentID, kind: kind, name: name, idempotencyKey: key)
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
            try await AdminSession.read(database, actor) { session in
                for child in try await session.children(of: parentID, search: search, limit: 500) {
                    let status = child.suspended ? "suspended" : "active"
                    print("\(child.id.uuidString.lowercased())\t\(child.kind.rawValue)\t\(status)\t\(child.name)")
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
                database, actor,
                describe: { "effective: " + $0.effectiveFeatures.map(\.rawValue).sorted().joined(separator: ",") }
            ) { session, key in
                try await session.setFeatures(changesCopy, on: accountID, idempotencyKey: key)
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
        try await AdminSession.act(database, actor, describe: AdminSession.describe) { session, key in
            try await session.adjust(accountID, unit, by: delta, reason: reason, idempotencyKey: key)
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
            try await AdminSession.act(database, actor, describe: AdminSession.describe) { session, key in
                try await session.transfer(credits, unit, from: fromID, to: toID, idempotencyKey: key)
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
            try await AdminSession.read(database, actor) { session in
                print("unit\tposted\treserved\tavailable\tcredit_limit")
                for balance in try await session.balances(of: accountID) {
                    print("\(balance.unit.rawValue)\t\(balance.posted)\t\(balance.reserved)\t\(balance.available)\t\(balance.creditLimit)")
                }
            }
        }
    }
}
