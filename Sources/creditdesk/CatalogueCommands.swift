import ArgumentParser
import CreditDesk
import Foundation

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Create users, their API keys and console passwords.",
        subcommands: [Create.self, Key.self, Revoke.self, Password.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user on an account.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Account id.") var account: String
        @Option(help: "Name.") var name: String
        @Option(help: "Email.") var email: String?
        @Option(help: "operator, billing, admin, support, user or readonly.") var role: String

        func run() async throws {
            guard let accountID = UUID(uuidString: account) else { throw ValidationError("--account must be a UUID") }
            guard let role = Role(rawValue: role) else { throw ValidationError("unknown role \(role)") }
            let (name, email) = (self.name, self.email)
            try await AdminSession.act(
                database, actor, describe: { "\($0.id.uuidString.lowercased())\t\($0.role.rawValue)\t\($0.name)" }
            ) { session, key in
                try await session.createUser(on: accountID, name: name, email: email, role: role, idempotencyKey: key)
            }
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key for a user; prints it once.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "User id.") var user: String
        @Option(help: "A label to recognise the key by.") var label = ""

        func run() async throws {
            guard let userID = UUID(uuidString: user) else { throw ValidationError("--user must be a UUID") }
            let label = self.label
            try await AdminSession.act(
                database, actor,
                describe: { created in
                    let id = created.key.id.uuidString.lowercased()
                    return created.secret.map { "key \(id) (shown once, store it now): \($0)" }
                        ?? "key \(id) (its secret was shown when it was created)"
                }
            ) { session, key in
                try await session.createKey(for: userID, label: label, idempotencyKey: key)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Key id.") var key: String

        func run() async throws {
            guard let keyID = UUID(uuidString: key) else { throw ValidationError("key must be a UUID") }
            try await AdminSession.act(database, actor, describe: { "revoked \($0.id.uuidString.lowercased())" }) {
                session, key in try await session.revokeKey(keyID, idempotencyKey: key)
            }
        }
    }
}

extension UsersCommand {
    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's console password, read from standard input (never from the command line).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "User id.") var user: String

        func run() async throws {
            guard let userID = UUID(uuidString: user) else { throw ValidationError("--user must be a UUID") }
            if isatty(STDIN_FILENO) == 1 { FileHandle.standardError.write(Data("password: ".utf8)) }
            guard let password = readLine(strippingNewline: true), !password.isEmpty else {
                throw ValidationError("give the password on standard input")
            }
            try await AdminSession.read(database, actor) { try await $0.setPassword(for: userID, to: password) }
            print("password set for user \(userID.uuidString.lowercased()); its console sessions ended")
        }
    }
}

struct PackagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages", abstract: "A reseller's package catalogue and sales.",
        subcommands: [Create.self, List.self, Sell.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a package to a reseller's catalogue.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Reseller account id.") var account: String
        @Option(help: "Name.") var name: String
        @Option(help: "SMS credits granted.") var sms: Int64 = 0
        @Option(help: "MMS credits granted.") var mms: Int64 = 0
        @Option(help: "Price in minor units (cents).") var price: Int64
        @Option(help: "ISO 4217 currency, e.g. EUR.") var currency: String

        func run() async throws {
            guard let accountID = UUID(uuidString: account) else { throw ValidationError("--account must be a UUID") }
            let (name, sms, mms, price, currency) = (self.name, self.sms, self.mms, self.price, self.currency)
            try await AdminSession.act(database, actor, describe: { "\($0.id.uuidString.lowercased())\t\($0.name)" }) {
                session, key in
                try await session.createPackage(
                    on: accountID, name: name, smsCredits: sms, mmsCredits: mms, priceMinor: price, currency: currency,
                    idempotencyKey: key)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a reseller's packages.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Reseller account id.") var account: String

        func run() async throws {
            guard let accountID = UUID(uuidString: account) else { throw ValidationError("--account must be a UUID") }
            try await AdminSession.read(database, actor) { session in
                print("id\tname\tsms\tmms\tprice_minor\tcurrency\tactive")
                for p in try await session.packages(of: accountID) {
                    print("\(p.id.uuidString.lowercased())\t\(p.name)\t\(p.smsCredits)\t\(p.mmsCredits)\t\(p.priceMinor)\t\(p.currency)\t\(p.active)")
                }
            }
        }
    }

    struct Sell: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sell a package to a direct child of its reseller.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Package id.") var package: String
        @Option(help: "Buyer account id.") var to: String

        func run() async throws {
            guard let packageID = UUID(uuidString: package), let buyerID = UUID(uuidString: to) else {
                throw ValidationError("--package and --to must be UUIDs")
            }
            try await AdminSession.act(
                database, actor,
                describe: { "sale \($0.id.uuidString.lowercased()): \($0.smsCredits) sms, \($0.mmsCredits) mms, \($0.priceMinor) \($0.currency)" }
            ) { session, key in
                try await session.sell(packageID, to: buyerID, idempotencyKey: key)
            }
        }
    }
}
