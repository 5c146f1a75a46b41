import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import Logging
import Testing

@testable import CreditDeskDB
@testable import CreditDeskServices
@testable import CreditDeskStore

@Suite("creditdesk command line")
struct CLITests {
    func run(_ arguments: [String], url: String) async throws -> Subprocess.Result {
        let binary = try #require(TestBinaries.creditdesk(), "build the creditdesk executable first (make test does)")
        return try await runBlocking {
            try Subprocess.run(binary.path, arguments + ["--database-url", url, "--log-level", "error"])
        }
    }

    @Test("bootstrap once, admin commands with its key, and verify exits 1 on a tampered ledger")
    func adminFlow() async throws {
        let url = try await TestCluster.shared.makeDatabase()
        let bootstrap = try await run(["bootstrap", "--name", "CLI operator"], url: url)
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let key = try #require(bootstrap.output.firstMatch(of: /store it now\): (cdk_\S+)/)?.1).description
        let platform = try #require(bootstrap.output.firstMatch(of: /platform account: (\S+)/)?.1).description
        #expect(try await run(["bootstrap"], url: url).status != 0)

        let created = try await run(
            ["accounts", "create", "--parent", platform, "--kind", "reseller", "--name", "CLI Reseller", "--api-key", key],
            url: url)
        #expect(created.status == 0, "\(created.output)")
        let reseller = String(created.output.split(separator: "\t").first ?? "")
        let add = ["credits", "add", reseller, "--unit", "sms", "--amount", "75", "--reason", "opening", "--api-key", key,
                   "--idempotency-key", "open-1"]
        #expect(try await run(add, url: url).status == 0)
        // The same idempotency key applies once.
        #expect(try await run(add, url: url).output.contains("already applied"))
        let balances = try await run(["credits", "balances", reseller, "--api-key", key], url: url)
        #expect(balances.output.contains("sms\t75\t0\t75\t0"), "\(balances.output)")
        let refused = try await run(
            ["credits", "remove", reseller, "--unit", "sms", "--amount", "500", "--reason", "x", "--api-key", key], url: url)
        #expect(refused.status != 0)
        #expect(refused.output.contains("insufficient_credits"))
        #expect(try await run(["accounts", "list", "--parent", platform, "--api-key", "cdk_bogus"], url: url).status != 0)

        let file = try makeTemporaryDirectory(prefix: "creditdesk-test-report").appendingPathComponent("usage.csv")
        let day = { (offset: Double) in String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(offset * 86_400)).prefix(10)) }
        let report = try await run(
            ["report", "usage", "--account", reseller, "--from", day(-1), "--to", day(1), "-o", file.path, "--api-key", key],
            url: url)
        #expect(report.status == 0, "\(report.output)")
        // stderr is not a terminal here, so no progress line.
        #expect(!report.output.contains("rows written"))
        let csv = try String(contentsOf: file, encoding: .utf8)
        #expect(csv.hasPrefix("account_id,account_name,period_start,unit,opening,granted"))
        #expect(csv.contains(",sms,0,75,0,0,0,0,0,0,0,0,75\r\n"))

        let audit = try await run(
            ["audit", "--account", platform, "--action", "account.created", "--format", "jsonl", "--api-key", key], url: url)
        #expect(audit.status == 0, "\(audit.output)")
        #expect(audit.output.contains("\"object_id\":\"\(reseller)\"") && audit.output.contains("\"after\":\"CLI Reseller\""))
        #expect(audit.output.contains("\"channel\":\"library\""))
        #expect(try await run(["audit", "--account", platform, "--from", "yesterday", "--api-key", key], url: url).status != 0)

        let clean = try await run(["verify"], url: url)
        #expect(clean.status == 0, "\(clean.output)")
        // Tamper behind the ledger's back: verify must notice and fail.
        try await runBlocking {
            let connection = try PostgresConnection(settings: ConnectionSettings(url: url))
            try connection.execute("UPDATE balances SET posted = posted + 1 WHERE account_id = $1 AND unit = 'sms'", [UUID(uuidString: reseller)!])
        }
        let dirty = try await run(["verify"], url: url)
        #expect(dirty.status == 1)
        #expect(dirty.output.contains("posted balance equals the sum of its posted entries"))
        #expect(dirty.output.contains("every unit sums to zero"))
    }

    @Test("gateways reencrypt reseals every secret under the new key, all or nothing, and only once")
    func reencrypt() async throws {
        let url = try await TestCluster.shared.makeDatabase()
        let oldKey = SecretBox.generateKey(), newKey = SecretBox.generateKey(), strayKey = SecretBox.generateKey()
        let (oldBox, newBox) = (try SecretBox(encodedKey: oldKey), try SecretBox(encodedKey: newKey))
        let gatewayID = try await runBlocking { () throws -> UUID in
            let connection = try PostgresConnection(settings: ConnectionSettings(url: url))
            try connection.execute("BEGIN")
            let gateway = try clientWithGateway(connection, box: oldBox)
            let client = try #require(try AccountStore.find(connection, id: gateway.accountID))
            _ = try WebhookStore.create(
                connection, account: client, WebhookSettings(url: "https://crm.example.com/hooks", events: [.messageStatus], description: nil)
            ) { id in (oldBox.seal(Array("whsec_test".utf8), associatedData: Array(id.lower.utf8)), oldBox.keyID) }
            try connection.execute("COMMIT")
            return gateway.id
        }
        func stored() async throws -> GatewayConnectionRecord {
            try await runBlocking {
                try #require(try GatewayStore.connection(try PostgresConnection(settings: ConnectionSettings(url: url)), id: gatewayID))
            }
        }
        func reencrypt(old: String?, new: String) async throws -> Subprocess.Result {
            let binary = try #require(TestBinaries.creditdesk())
            let environment = (old.map { ["CREDITDESK_OLD_SECRET_KEY=\($0)"] } ?? []) + ["CREDITDESK_SECRET_KEY=\(new)"]
            return try await runBlocking {
                try Subprocess.run(
                    "/usr/bin/env",
                    environment + [binary.path, "gateways", "reencrypt", "--database-url", url, "--log-level", "error"])
            }
        }
        #expect(try await reencrypt(old: nil, new: newKey).status != 0)
        // A wrong old key opens nothing, so nothing changes.
        let wrong = try await reencrypt(old: strayKey, new: newKey)
        #expect(wrong.status != 0 && wrong.output.contains("does not open"), "\(wrong.output)")
        #expect(try await stored().secretKeyID == oldBox.keyID)

        let done = try await reencrypt(old: oldKey, new: newKey)
        #expect(
            done.status == 0 && done.output.contains("re-encrypted 1 gateway secrets and 1 webhook secrets under key \(newBox.keyID)"),
            "\(done.output)")
        let webhook = try #require(try await runBlocking {
            try WebhookStore.lockAllSecrets(try PostgresConnection(settings: ConnectionSettings(url: url))).first
        })
        #expect(newBox.open(webhook.sealed, associatedData: Array(webhook.id.lower.utf8)) == Array("whsec_test".utf8))
        let resealed = try await stored()
        let associated = Array(gatewayID.uuidString.lowercased().utf8)
        #expect(resealed.secretKeyID == newBox.keyID)
        #expect(newBox.open(resealed.secretSealed, associatedData: associated) == Array("s3cret".utf8))
        #expect(oldBox.open(resealed.secretSealed, associatedData: associated) == nil)
        // Run again: already under the new key, nothing to do.
        #expect(try await reencrypt(old: oldKey, new: newKey).output.contains("re-encrypted 0 gateway secrets and 0 webhook secrets"))
    }

    @Test("ledger entries refuse UPDATE and DELETE")
    func appendOnly() async throws {
        try await withTestDatabase { pool in
            let error = await #expect(throws: DatabaseError.self) {
                try await pool.withConnection { connection in
                    try connection.execute(
                        """
                        INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id, credit_account_id)
                        VALUES ($1, $1, 'charge', 'sms', 1, $1, $2)
                        """, [UUID(), UUID()])
                    try connection.execute("UPDATE ledger_entries SET amount = 2")
                }
            }
            #expect(error?.message.contains("append-only") == true)
        }
    }
}
