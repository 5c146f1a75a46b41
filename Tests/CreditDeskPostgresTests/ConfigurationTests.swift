import CreditDeskServices
import Foundation
import Logging
import Testing

@Suite("One configuration")
struct ConfigurationTests {
    @Test("defaults, then the environment, then flags; empty variables count as unset")
    func precedence() throws {
        let defaults = try AppConfiguration(environment: [:])
        #expect(defaults.databaseURL == nil && defaults.poolSize == 8 && defaults.port == 8080)
        #expect(defaults.host == "127.0.0.1" && defaults.logLevel == .info)
        #expect(defaults.publicBaseURL == "http://127.0.0.1:8080" && defaults.smtpFrom == "creditdesk@localhost")
        #expect(defaults.dataDirectory.lastPathComponent == ".creditdesk")
        #expect(defaults.metricsToken == nil)

        let environment = [
            "DATABASE_URL": "postgresql://db/creditdesk", "CREDITDESK_POOL_SIZE": "16", "PORT": "9000",
            "LOG_LEVEL": "WARNING", "CREDITDESK_SECRET_KEY": "", "CREDITDESK_API_KEY": "cd_env",
            "CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES": "64, 61",
        ]
        let fromEnvironment = try AppConfiguration(environment: environment)
        #expect(fromEnvironment.databaseURL == "postgresql://db/creditdesk" && fromEnvironment.poolSize == 16)
        #expect(fromEnvironment.port == 9000 && fromEnvironment.logLevel == .warning)
        #expect(fromEnvironment.secretKey == nil && fromEnvironment.apiKey == "cd_env")
        #expect(fromEnvironment.replyRule.emailOnlyCallingCodes == ["64", "61"])
        #expect(fromEnvironment.publicBaseURL == "http://127.0.0.1:9000")

        let flagged = try AppConfiguration(
            flags: .init(poolSize: 4, logLevel: "debug", host: "0.0.0.0", port: 7000, apiKey: "cd_flag"),
            environment: environment)
        #expect(flagged.poolSize == 4 && flagged.logLevel == .debug && flagged.host == "0.0.0.0")
        #expect(flagged.port == 7000 && flagged.apiKey == "cd_flag")
    }

    @Test("a value that cannot be used is refused, naming it")
    func refusals() {
        let cases: [([String: String], AppConfiguration.Flags, String)] = [
            (["CREDITDESK_POOL_SIZE": "eight"], .init(), "CREDITDESK_POOL_SIZE"),
            (["CREDITDESK_POOL_SIZE": "٨"], .init(), "CREDITDESK_POOL_SIZE"),
            ([:], .init(poolSize: 0), "pool size"),
            (["PORT": "70000"], .init(), "port"),
            (["CREDITDESK_METRICS_TOKEN": "short"], .init(), "CREDITDESK_METRICS_TOKEN"),
            (["LOG_LEVEL": "loud"], .init(), "log level"),
            (["CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES": "nz"], .init(), "CREDITDESK_EMAIL_ONLY_REPLY_COUNTRIES"),
        ]
        for (environment, flags, named) in cases {
            #expect {
                _ = try AppConfiguration(flags: flags, environment: environment)
            } throws: { error in
                (error as? AppConfiguration.Invalid)?.description.contains(named) == true
            }
        }
    }
}
