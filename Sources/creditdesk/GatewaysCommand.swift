import ArgumentParser
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

struct GatewaysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateways", abstract: "Gateway connections.", subcommands: [Reencrypt.self])

    /// Key rotation. Keys come from the environment, never the command line (which `ps` shows):
    /// run every daemon with CREDITDESK_SECRET_KEY = the new key and CREDITDESK_OLD_SECRET_KEY =
    /// the old one (they open secrets under either), run this, then drop the old key.
    struct Reencrypt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reencrypt",
            abstract: "Reseal every gateway and webhook secret under CREDITDESK_SECRET_KEY, opening it with CREDITDESK_OLD_SECRET_KEY.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try database.configuration()
            guard let oldBox = try configuration.previousSecretBox() else {
                throw ValidationError("set CREDITDESK_OLD_SECRET_KEY to the key the secrets are sealed under now")
            }
            guard let encoded = configuration.secretKey else {
                throw ValidationError("set CREDITDESK_SECRET_KEY to the new key")
            }
            let newBox = try SecretBox(encodedKey: encoded)
            // One transaction with every secret locked: all resealed, or none. Key rotation is
            // maintenance by whoever holds the machine's keys, acting for no user: it is not an
            // operation of the library's sessions, and reaches the pool directly.
            let count = try await AdminSession.run(database) { session in
                try await session.desk.pool.withTransaction {
                    try MessagingOperations.reencryptSecrets($0, oldBox: oldBox, newBox: newBox)
                }
            }
            print("re-encrypted \(count.gateways) gateway secrets and \(count.webhooks) webhook secrets under key \(newBox.keyID)")
        }
    }
}
