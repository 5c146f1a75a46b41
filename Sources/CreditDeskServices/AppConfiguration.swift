import CreditDeskCore
import Foundation
import Logging

/// Every setting of the daemon and the command-line tool, parsed once, at start, from the
/// command's flags and the environment: a flag wins over its variable, a variable over the
/// default. It is passed down from there; nothing below reads the environment.
package struct AppConfiguration: Sendable, Equatable {
    /// What the command line said; nil where a flag was not given.
    package struct Flags: Sendable {
        package var databaseURL: String?
        package var dataDirectory: String?
        package var poolSize: Int?
        package var migrationsDirectory: String?
        package var logLevel: String?
        package var host: String?
        package var port: Int?
        package var apiKey: String?

        package init(
            databaseURL: String? = nil, dataDirectory: String? = nil, poolSize: Int? = nil,
            migrationsDirectory: String? = nil, logLevel: String? = nil, host: String? = nil, port: Int? = nil,
            apiKey: String? = nil
        ) {
            self.databaseURL = databaseURL
            self.dataDirectory = dataDirectory
            self.poolSize = poolSize
            self.migrationsDirectory = migrationsDirectory
            self.logLevel = logLevel
            self.host = host
            self.port = port
            self.apiKey = apiKey
        }
    }

    /// A setting that cannot be used, named as the user wrote it.
    package struct Invalid: Error, CustomStringConvertible, Equatable {
        package let description: String
    }

    /// `DATABASE_URL`; nil: an embedded cluster under `dataDirectory`.
    package var databaseURL: String?
    /// `CREDITDESK_DATA_DIR`, default `.creditdesk`.
    package var dataDirectory: URL
    /// `CREDITDESK_POOL_SIZE`, 1 to 256, default 8.
    package var poolSize: Int
    /// `CREDITDESK_MIGRATIONS`; nil: the migrations compiled into the binary.
    package var migrationsDirectory: String?
    /// `LOG_LEVEL`, default info.
    package var logLevel: Logger.Level
    /// `CREDITDESK_HOST` and `PORT`, default 127.0.0.1:8080.
    package var host: String
    package var port: Int
    /// `CREDITDESK_SECRET_KEY`, `CREDITDESK_OLD_SECRET_KEY`: base64url of 32 bytes each.
    package var secretKey: String?
    package var previousSecretKey: String?
    /// `CREDITDESK_API_KEY`: the key admin commands act with.
    package var apiKey: String?
    /// `CREDITDESK_SMTP_URL`, `CREDITDESK_SMTP_FROM`.
    package var smtpURL: String?
    package var smtpFrom: String
    /// `CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES`: country codes whose replies go by email only.
    package var replyRule: ReplyRoutingRule
    /// `CREDITDESK_PUBLIC_URL`: where gateways reach this daemon; default its own address.
    package var publicBaseURL: String
    /// `CREDITDESK_PG_BINDIR`: PostgreSQL's programs for the embedded cluster.
    package var postgresBinDirectory: String?
    /// `CREDITDESK_METRICS_TOKEN`: the bearer token of `GET /metrics` (at least 16
    /// characters); unset: no metrics route.
    package var metricsToken: String?
    /// `CREDITDESK_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges of the proxies in
    /// front of the daemon, whose `X-Forwarded-For` names the client; unset: none is trusted.
    package var trustedProxies: [AddressRange]
    /// `CREDITDESK_WEBHOOK_ALLOW_PRIVATE=1`: webhook endpoints may point at loopback and
    /// private addresses (tests, closed networks); unset: refused.
    package var webhookAllowsPrivateAddresses: Bool

    package init(flags: Flags = Flags(), environment: [String: String]) throws {
        // An empty variable is the same as an unset one.
        let variable = { (name: String) -> String? in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        databaseURL = flags.databaseURL ?? variable("DATABASE_URL")
        dataDirectory = URL(fileURLWithPath: flags.dataDirectory ?? variable("CREDITDESK_DATA_DIR") ?? ".creditdesk")
        poolSize = try flags.poolSize ?? Self.number(variable("CREDITDESK_POOL_SIZE"), "CREDITDESK_POOL_SIZE") ?? 8
        guard (1...256).contains(poolSize) else { throw Invalid(description: "the pool size must be between 1 and 256") }
        migrationsDirectory = flags.migrationsDirectory ?? variable("CREDITDESK_MIGRATIONS")
        let level = flags.logLevel ?? variable("LOG_LEVEL") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw Invalid(description: "unknown log level \(level)")
        }
        self.logLevel = logLevel
        host = flags.host ?? variable("CREDITDESK_HOST") ?? "127.0.0.1"
        port = try flags.port ?? Self.number(variable("PORT"), "PORT") ?? 8080
        guard (0...65535).contains(port) else { throw Invalid(description: "the port must be between 0 and 65535") }
        secretKey = variable("CREDITDESK_SECRET_KEY")
        previousSecretKey = variable("CREDITDESK_OLD_SECRET_KEY")
        apiKey = flags.apiKey ?? variable("CREDITDESK_API_KEY")
        smtpURL = variable("CREDITDESK_SMTP_URL")
        smtpFrom = variable("CREDITDESK_SMTP_FROM") ?? "creditdesk@localhost"
        do {
            replyRule = try ReplyRoutingRule.parse(variable("CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES") ?? "64")
        } catch {
            throw Invalid(description: "CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES: \(error)")
        }
        publicBaseURL = variable("CREDITDESK_PUBLIC_URL") ?? "http://\(host):\(port)"
        postgresBinDirectory = variable("CREDITDESK_PG_BINDIR")
        metricsToken = variable("CREDITDESK_METRICS_TOKEN")
        if let metricsToken, metricsToken.count < 16 {
            throw Invalid(description: "CREDITDESK_METRICS_TOKEN must be at least 16 characters long")
        }
        trustedProxies = try (variable("CREDITDESK_TRUSTED_PROXIES") ?? "").split(separator: ",").map { text in
            let text = text.trimmingCharacters(in: .whitespaces)
            guard let range = AddressRange(written: text) else {
                throw Invalid(description: "CREDITDESK_TRUSTED_PROXIES: \(text) is not an address or CIDR range")
            }
            return range
        }
        switch variable("CREDITDESK_WEBHOOK_ALLOW_PRIVATE")?.lowercased() {
        case nil, "0", "false", "no": webhookAllowsPrivateAddresses = false
        case "1", "true", "yes": webhookAllowsPrivateAddresses = true
        case let other?: throw Invalid(description: "CREDITDESK_WEBHOOK_ALLOW_PRIVATE must be 1 or 0, not \(other)")
        }
    }

    static func number(_ text: String?, _ name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = RequestParsing.int64(text).flatMap(Int.init(exactly:)) else {
            throw Invalid(description: "\(name) must be a whole number, not \(text)")
        }
        return value
    }
}
