import CreditDesk
import CreditDeskTestSupport
import Foundation
import Testing

/// The library as an embedding server uses it: only its public API, on a real PostgreSQL.
@Suite("CreditDesk as a library")
struct LibraryTests {
    /// A desk on a fresh, empty database of the test cluster: the library migrates it itself.
    func withDesk(_ body: (Desk) async throws -> Void) async throws {
        let url = try await TestCluster.shared.makeDatabase(migrated: false)
        let desk = try await Desk.open(databaseURL: url)
        do {
            try await body(desk)
            await desk.close()
        } catch {
            await desk.close()
            throw error
        }
    }

    @Test("a reseller sells a package to a client, who reserves and posts; the ledger verifies")
    func moneyPath() async throws {
        try await withDesk { desk in
            let (platform, operatorKey) = try await desk.bootstrap(operatorName: "Ops")
            #expect(operatorKey.hasPrefix("cdk_") && platform.role == .operator)
            let reseller = try await platform.createAccount(under: platform.accountID, kind: .reseller, name: "Acme")
            let client = try await platform.createAccount(under: reseller.id, kind: .client, name: "Harbour Dental")
            _ = try await platform.transfer(5_000, .sms, from: platform.accountID, to: reseller.id)
            let package = try await platform.createPackage(
                on: reseller.id, name: "Starter", smsCredits: 1_000, priceMinor: 4_900, currency: "EUR")
            let (sale, first) = try await Session.noticingReplays {
                try await platform.sell(package.id, to: client.id, idempotencyKey: "sale-1")
            }
            let (replay, again) = try await Session.noticingReplays {
                try await platform.sell(package.id, to: client.id, idempotencyKey: "sale-1")
            }
            #expect(!first && again)
            #expect(sale == replay && sale.priceMinor == 4_900 && sale.smsCredits == 1_000 && sale.entries.count == 1)

            let desk1 = try await platform.createUser(on: client.id, name: "Front desk", role: .user)
            let office = try await desk.session(userID: desk1.id)
            #expect(office.accountID == client.id && office.role == .user)
            let held = try await office.reserve(3, .sms, on: client.id, reference: "reminder")
            #expect(held.status == .pending)
            let posted = try await office.post(held.id, amount: 2)
            #expect(posted.status == .posted && posted.postedAmount == 2)
            let sms = try #require(try await office.balances(of: client.id).first { $0.unit == .sms })
            #expect(sms.posted == 998 && sms.reserved == 0 && sms.available == 998)
            let reseller5 = try #require(try await platform.balances(of: reseller.id).first { $0.unit == .sms })
            #expect(reseller5.posted == 4_000)
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            let tomorrow = String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(2 * 86_400)).prefix(10))
            let usage = try await office.usage(of: client.id, from: today, to: tomorrow, grouping: .month)
            let row = try #require(usage.rows.first { $0.unit == .sms })
            #expect(row.sold == 1_000 && row.sent == 2 && row.closing == 998)
            #expect(try await desk.verify().isEmpty)
        }
    }

    @Test("changes made through the library are in the audit log, channel library, which it exports")
    func audit() async throws {
        try await withDesk { desk in
            let (platform, _) = try await desk.bootstrap(operatorName: "Ops")
            let reseller = try await platform.createAccount(under: platform.accountID, kind: .reseller, name: "Acme")
            _ = try await platform.setFeatures([.mms: true], on: reseller.id)
            var lines = ""
            let rows = try await platform.exportAudit(of: platform.accountID, jsonLines: true) { lines += $0 }
            let actions = lines.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["action"] as? String
            }
            // Bootstrap's platform, operator and key; then the reseller and its features.
            #expect(rows == 5 && actions == ["features.changed", "account.created", "key.created", "user.created", "account.created"])
            #expect(lines.contains("\"channel\":\"library\"") && lines.contains("\"mms\":{\"after\":true,\"before\":false}"))
            let suspended = try await platform.exportAudit(of: reseller.id, action: "account.suspended") { _ in }
            #expect(suspended == 0)
            await #expect(throws: CreditDeskError.self) {
                try await platform.exportAudit(of: reseller.id, action: "account.exploded") { _ in }
            }
            #expect(try await desk.verify().isEmpty)
        }
    }

    @Test("a movement above the approval threshold throws approval_pending after recording the request; nothing moves")
    func heldMovement() async throws {
        try await withDesk { desk in
            let (platform, _) = try await desk.bootstrap(operatorName: "Ops")
            let reseller = try await platform.createAccount(under: platform.accountID, kind: .reseller, name: "Acme")
            _ = try await platform.transfer(100, .sms, from: platform.accountID, to: reseller.id)
            _ = try await desk.pool.withTransaction { connection in
                try connection.execute(
                    "INSERT INTO approval_thresholds (tenant_id, account_id, unit, threshold) VALUES ($1, $1, 'sms', 10)",
                    [platform.accountID])
            }
            for _ in 0..<2 {  // the replay throws the same, and records nothing more
                do {
                    _ = try await platform.transfer(50, .sms, from: platform.accountID, to: reseller.id, idempotencyKey: "big")
                    Issue.record("a held transfer answered an entry")
                } catch let error as CreditDeskError {
                    #expect(error.code == CreditDeskError.approvalPending && error.details["approval_id"]?.count == 36)
                }
            }
            #expect(try await platform.balances(of: reseller.id).first { $0.unit == .sms }?.available == 100)
            let requests = try await desk.pool.withConnection {
                try $0.execute("SELECT count(*) AS n FROM approval_requests").single().decode(Int64.self, "n")
            }
            #expect(requests == 1)
        }
    }

    @Test("refusals are typed with the API's stable codes and change nothing")
    func typedErrors() async throws {
        try await withDesk { desk in
            let (platform, _) = try await desk.bootstrap(operatorName: "Ops")
            let reseller = try await platform.createAccount(under: platform.accountID, kind: .reseller, name: "Acme")
            func code(_ work: () async throws -> Void) async -> String? {
                do { try await work() } catch let error as CreditDeskError { return error.code } catch { return "\(error)" }
                return nil
            }
            #expect(await code { _ = try await platform.reserve(1, .sms, on: reseller.id) } == CreditDeskError.insufficientCredits)
            #expect(await code { _ = try await platform.transfer(1, .mms, from: platform.accountID, to: reseller.id) }
                == CreditDeskError.featureDisabled)
            #expect(await code { _ = try await platform.account(UUID()) } == CreditDeskError.notFound)
            #expect(await code { _ = try await desk.session(apiKey: "cdk_nope") } == "unauthorized")
            #expect(await code { _ = try await desk.bootstrap(operatorName: "Again") } == "conflict")
            _ = try await platform.adjust(reseller.id, .sms, by: 10, reason: "bonus", idempotencyKey: "k")
            #expect(await code { _ = try await platform.adjust(reseller.id, .sms, by: 11, reason: "bonus", idempotencyKey: "k") }
                == CreditDeskError.idempotencyConflict)
            do {
                _ = try await platform.reserve(11, .sms, on: reseller.id)
                Issue.record("reserved more than there is")
            } catch let error as CreditDeskError {
                #expect(error.details["available"] == "10" && error.details["requested"] == "11")
            }
            #expect(try await platform.balances(of: reseller.id).first { $0.unit == .sms }?.posted == 10)
            #expect(try await desk.verify().isEmpty)
        }
    }

    @Test("a key's secret is shown once: its replay answers the key without it; the key opens a session")
    func keys() async throws {
        try await withDesk { desk in
            let (platform, _) = try await desk.bootstrap(operatorName: "Ops")
            let first = try await platform.createKey(for: platform.userID, label: "laptop", idempotencyKey: "key-1")
            let again = try await platform.createKey(for: platform.userID, label: "laptop", idempotencyKey: "key-1")
            let secret = try #require(first.secret)
            #expect(again.key == first.key && again.secret == nil)
            let byKey = try await desk.session(apiKey: secret)
            #expect(byKey.userID == platform.userID)
            _ = try await platform.revokeKey(first.key.id)
            await #expect(throws: CreditDeskError.self) { try await desk.session(apiKey: secret) }
        }
    }
}
