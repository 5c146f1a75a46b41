import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

@Suite("Usage reports and exports")
struct UsageTests {
    /// A period that contains everything a test just did: a month ago to two days on (UTC).
    /// Computed at each use, not once per process, so a run that crosses midnight UTC still
    /// has its latest activity inside the period.
    static var today: String { day(offset: 2) }
    static var start: String { day(offset: -30) }

    static func day(offset days: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date().addingTimeInterval(Double(days) * 86_400))
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    typealias Row = Components.Schemas.UsageRow

    /// A usage report through the generated client.
    func usage(
        _ api: API, _ key: String?, _ account: UUID, from: String = Self.start, to: String = Self.today,
        scope: Endpoints.GetUsage.Input.Query.ScopePayload? = nil,
        group: Endpoints.GetUsage.Input.Query.GroupPayload? = nil, tz: String? = nil
    ) async throws -> Endpoints.GetUsage.Output {
        try await api.typed(key).getUsage(
            path: .init(id: account.objectID), query: .init(from: from, to: to, tz: tz, group: group, scope: scope))
    }

    /// Activity of every kind on the fixture's reseller and client.
    func activity(_ api: API, _ fixture: Fixture) async throws {
        let admin = api.typed(fixture.keys[.resellerAdmin])
        let user = api.typed(fixture.keys[.clientUser])
        let (reseller, client) = (fixture.reseller.id.objectID, fixture.client.id.objectID)
        let fresh = { Endpoints.AdjustCredits.Input.Headers(idempotencyKey: freshKey()) }
        _ = try await api.typed(fixture.keys[.platformOperator]).transferCredits(
            path: .init(id: fixture.platform.id.objectID), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(unit: .sms, amount: 5_000, toAccountId: reseller))).ok
        _ = try await admin.transferCredits(
            path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(unit: .sms, amount: 300, toAccountId: client))).ok
        let package = try await admin.createPackage(
            path: .init(id: reseller), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(
                value1: .init(name: "Big", smsCredits: 1_000, priceMinor: 2_500, currency: "EUR"),
                value2: .init(value1: .init(smsCredits: 1_000))))
        ).created.body.json
        _ = try await admin.sellPackage(
            path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(packageId: package.id))
        ).created
        _ = try await admin.adjustCredits(
            path: .init(id: client), headers: fresh(), body: .json(.init(unit: .sms, amount: -40, reason: "correction"))).ok
        let reservation = try await user.reserveCredits(
            path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(unit: .sms, amount: 90))
        ).created.body.json
        _ = try await user.postReservation(
            path: .init(id: reservation.id), headers: .init(idempotencyKey: freshKey()), body: .json(.init(amount: 70))).ok
        let charge = try await user.chargeCredits(
            path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(unit: .sms, amount: 15))
        ).created.body.json
        _ = try await admin.refundEntry(
            path: .init(id: charge.id), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(amount: 5, reason: "failed"))).created
        // Still pending at report time: reserved, not consumed.
        _ = try await user.reserveCredits(
            path: .init(id: client), headers: .init(idempotencyKey: freshKey()), body: .json(.init(unit: .sms, amount: 11))
        ).created
        _ = try await admin.expireCredits(
            path: .init(id: client), headers: .init(idempotencyKey: freshKey()),
            body: .json(.init(unit: .sms, amount: 25, reason: "term ended"))).created
    }

    @Test("every row reconciles: opening + in − out = closing, and closing is the balance")
    func reconciliation() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let admin = fixture.keys[.resellerAdmin]!
            let report = try await usage(api, admin, fixture.reseller.id, scope: .descendants, group: .month).ok.body.json
            let client = report.rows.filter { $0.accountId.uuid == fixture.client.id && $0.unit == .sms }
            #expect(client.count == 1)
            let row = try #require(client.first)
            #expect(row.granted == 300 && row.sold == 1_000 && row.removed == 40)
            #expect(row.consumed == 85 && row.refunded == 5 && row.opening == 0)
            // Consumed splits into sent (posted reservations) and received (charges).
            #expect(row.sent == 70 && row.received == 15 && row.expired == 25)
            for row in report.rows + report.totals {
                #expect(row.consumed == row.sent + row.received)
                let flows = row.opening + row.granted + row.sold + row.refunded
                    - row.consumed - row.expired - row.removed - row.transferredOut
                #expect(flows == row.closing, "\(row)")
            }
            #expect(row.closing == (try await api.balance(fixture.client.id, .sms, key: admin)).posted)

            let own = try await usage(api, admin, fixture.reseller.id).ok.body.json
            let reseller = try #require(own.rows.first { $0.unit == .sms })
            // The 40 removed from the client went back to the remover's (the reseller's) pool.
            #expect(reseller.granted == 5_040 && reseller.transferredOut == 1_300)
            #expect(reseller.closing == 3_740)
            let revenue = try await usage(api, admin, fixture.reseller.id, scope: .children).ok.body.json.revenue
            #expect(try #require(revenue.first).amountMinor == 2_500)

            // Split the period: the first part's closing is the second part's opening.
            let early = try await usage(api, admin, fixture.client.id, from: "2020-01-01", to: "2020-02-01").ok.body.json
            let earlySMS = try #require(early.rows.first { $0.unit == .sms })
            #expect(earlySMS.opening == 0 && earlySMS.closing == 0)
        }
    }

    @Test("expiry takes only unreserved credits, needs the parent, and is idempotent")
    func expiry() async throws {
        try await withAPI { api, fixture, pool in
            try await activity(api, fixture)
            let adminKey = fixture.keys[.resellerAdmin]!
            let before = try await api.balance(fixture.client.id, .sms, key: adminKey)
            #expect(before.posted == 1_155 && before.reserved == 11)
            func expire(_ amount: Int64?, key: String = freshKey(), as actor: String = adminKey) async throws
                -> Endpoints.ExpireCredits.Output
            {
                try await api.typed(actor).expireCredits(
                    path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: key),
                    body: .json(.init(unit: .sms, amount: amount)))
            }
            #expect(try await expire(nil, as: fixture.keys[.clientAdmin]!).forbidden.body.json.error.code == "forbidden")
            #expect(try await expire(1_145).conflict.body.json.error.code == "conflict")
            #expect((try await api.balance(fixture.client.id, .sms, key: adminKey)).posted == 1_155)

            // Everything unreserved; the pending reservation keeps its 11.
            let key = freshKey()
            let all = try await expire(nil, key: key).created
            #expect(try all.body.json.amount == 1_144 && all.body.json.kind == .expire)
            let replay = try await expire(nil, key: key).created
            #expect(try replay.body.json == all.body.json && replay.headers.idempotentReplayed == ._true)
            let after = try await api.balance(fixture.client.id, .sms, key: adminKey)
            #expect(after.posted == 11 && after.reserved == 11 && after.available == 0)
            #expect(contractError(try await expire(nil))?.code == "conflict")
            try await verifyClean(pool)
        }
    }

    @Test("days and months are cut in the requested time zone")
    func timeZones() async throws {
        try await withAPI { api, fixture, pool in
            // Entries at chosen instants, written directly (the API always stamps now()).
            try await pool.withConnection { connection in
                for (instant, amount) in [("2026-01-31 23:30:00+00", 7), ("2026-03-01 12:00:00+00", 11)] {
                    try connection.execute(
                        """
                        INSERT INTO ledger_entries (tenant_id, operation_id, kind, unit, amount, debit_account_id,
                            credit_account_id, created_at)
                        VALUES ($1, $2, 'adjust', 'sms', $3, $4, $5, $6::timestamptz)
                        """,
                        [fixture.client.tenantID, UUID(), amount, SystemAccount.issuance, fixture.client.id, instant])
                }
            }
            let key = fixture.keys[.resellerAdmin]
            func report(_ tz: String, _ group: Endpoints.GetUsage.Input.Query.GroupPayload) async throws -> [Row] {
                try await usage(api, key, fixture.client.id, from: "2026-01-01", to: "2026-04-01", group: group, tz: tz)
                    .ok.body.json.rows.filter { $0.unit == .sms }
            }
            let berlin = try await report("Europe/Berlin", .day)
            #expect(try await report("UTC", .day).map(\.periodStart) == ["2026-01-31", "2026-03-01"])
            #expect(berlin.map(\.periodStart) == ["2026-02-01", "2026-03-01"])
            // Auckland is UTC+13 in summer: both instants fall in the next local month/day.
            #expect(try await report("Pacific/Auckland", .month).map(\.periodStart) == ["2026-02-01", "2026-03-01"])
            let second = berlin.first { $0.periodStart == "2026-03-01" }
            #expect(second?.opening == 7 && second?.closing == 18)
            let bad = try await usage(api, key, fixture.client.id, tz: "Mars/Olympus")
            #expect(try bad.badRequest.body.json.error.detail("field") == "tz")
            let backwards = try await usage(api, key, fixture.client.id, from: "2026-02-01", to: "2026-01-01")
            #expect(contractError(backwards)?.code == "invalid_parameter")
        }
    }

    @Test("an empty period still lists every account in scope, with opening equal to closing")
    func emptyPeriod() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let all = try await usage(
                api, fixture.keys[.resellerAdmin], fixture.reseller.id, from: "2030-01-01", to: "2030-01-02",
                scope: .descendants
            ).ok.body.json.rows
            #expect(all.count == 2)  // the one client, sms and mms
            for row in all {
                #expect(row.opening == row.closing && row.consumed == 0)
            }
            #expect(all.contains { $0.unit == .sms && $0.opening == 1_155 })
        }
    }

    @Test("a reseller sees only its subtree, a client only itself")
    func scoping() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let rival = try await usage(api, fixture.keys[.otherResellerAdmin], fixture.reseller.id)
            #expect(try rival.notFound.body.json.error.code == "not_found")
            let rivalExport = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage/export?from=\(Self.start)&to=\(Self.today)",
                key: fixture.keys[.otherResellerAdmin])
            #expect(rivalExport.status == .notFound)
            func accounts(_ output: Endpoints.GetUsage.Output) throws -> Set<UUID> {
                Set(try output.ok.body.json.rows.map(\.accountId.uuid))
            }
            let platform = try await usage(api, fixture.keys[.platformOperator], fixture.platform.id, scope: .descendants)
            let resellerView = try await usage(api, fixture.keys[.resellerBilling], fixture.reseller.id, scope: .descendants)
            #expect(try accounts(resellerView) == [fixture.client.id])
            #expect(try accounts(platform).contains(fixture.otherClient.id))
            let client = fixture.keys[.clientReadonly]
            #expect(contractError(try await usage(api, client, fixture.reseller.id))?.code == "not_found")
            #expect(try accounts(try await usage(api, client, fixture.client.id)) == [fixture.client.id])
            #expect(try accounts(try await usage(api, client, fixture.client.id, scope: .children)).isEmpty)
        }
    }

    @Test("CSV exports quote names with commas, quotes and newlines per RFC 4180")
    func csvQuoting() async throws {
        try await withAPI(metricsToken: MetricsTests.token) { api, fixture, _ in
            let admin = fixture.keys[.resellerAdmin]
            let before = try await scrapeMetrics(api)
            // Names cannot hold control characters; reasons can, so the newline rides in a reason.
            let awkward = "Smith, Jones & \"Partners\""
            let multiline = "first line, \"quoted\"\nsecond line"
            let created = try await api.call(
                .post, "/v1/accounts", key: admin,
                body: ["parent_id": fixture.reseller.id.lower, "kind": "client", "name": awkward])
            #expect(created.status == .created)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(admin!)"
            let (status, disposition, body) = try await api.client.execute(
                uri: "/v1/accounts/\(fixture.reseller.id.lower)/usage/export?from=\(Self.start)&to=\(Self.today)&scope=children&format=csv",
                method: .get, headers: headers
            ) { response in
                (response.status, response.headers[.contentDisposition], String(buffer: response.body))
            }
            #expect(status == .ok)
            #expect(disposition?.contains("attachment; filename=\"creditdesk-usage-") == true)
            let records = CSV.parse(body)
            #expect(records.first == UsageExport.dailyColumns)
            #expect(body.hasSuffix("\r\n"))
            let names = records.dropFirst().map { $0[1] }
            #expect(names.contains(awkward))
            #expect(records.dropFirst().allSatisfy { $0.count == UsageExport.dailyColumns.count })
            try await api.call(
                .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: fixture.keys[.platformOperator],
                body: ["unit": "sms", "amount": 9, "to_account_id": fixture.reseller.id.lower])
            try await api.call(
                .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                body: ["unit": "sms", "amount": 9, "to_account_id": created.id, "reason": multiline])
            let entries = try await api.client.execute(
                uri: "/v1/accounts/\(fixture.reseller.id.lower)/usage/export?from=\(Self.start)&to=\(Self.today)&scope=children&detail=entries",
                method: .get, headers: headers
            ) { response in String(buffer: response.body) }
            let entryRecords = CSV.parse(entries)
            #expect(entryRecords.first == UsageExport.entryColumns)
            // Both exports' rows are counted (at least: other tests count into the same registry).
            let rows = ["daily", "entries"].map { detail in
                { (text: PrometheusText) in text.sum("creditdesk_export_rows_total", ["detail": detail]) }
            }
            let (daily, entryRows) = (Double(records.count - 1), Double(entryRecords.count - 1))
            #expect(
                try await eventually {
                    let after = try await scrapeMetrics(api)
                    return rows[0](after) >= rows[0](before) + daily && rows[1](after) >= rows[1](before) + entryRows
                })
            #expect(entryRecords.dropFirst().contains { $0[3] == awkward && $0[8] == multiline })
            #expect(ExportEncoder.csvField("plain") == "plain")
            #expect(ExportEncoder.csvField("a\"b") == "\"a\"\"b\"")
        }
    }

    @Test("an export larger than one batch equals the same export in a single batch, in both formats")
    func largeExport() async throws {
        try await withAPI { api, fixture, pool in
            try await activity(api, fixture)
            let admin = fixture.keys[.resellerAdmin]
            for index in 0..<5 {
                let created = try await api.call(
                    .post, "/v1/accounts", key: admin, body: ["parent_id": fixture.reseller.id.lower, "kind": "client", "name": "C\(index)"])
                for amount in 1...4 {
                    try await api.call(
                        .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
                        body: ["unit": "sms", "amount": amount, "to_account_id": created.id])
                }
            }
            let period = try UsagePeriod(from: Self.start, to: Self.today, timeZone: "UTC")
            for detail in UsageExport.Detail.allCases {
                for format in ExportFormat.allCases {
                    var small = UsageExport(
                        root: fixture.reseller.id, scope: .descendants, period: period, grouping: .day, detail: detail,
                        format: format)
                    small.accountBatchSize = 2
                    small.entryBatchSize = 3
                    var large = small
                    large.accountBatchSize = 1_000
                    large.entryBatchSize = 100_000
                    let chunks = Chunks()
                    let smallRows = try await small.run(pool: pool) { text, _ in chunks.append(text) }
                    let whole = Chunks()
                    let largeRows = try await large.run(pool: pool) { text, _ in whole.append(text) }
                    #expect(smallRows == largeRows)
                    #expect(smallRows > (detail == .entries ? 20 : 10))
                    #expect(chunks.count >= 3, "the small export really came in several batches")
                    let sortedLines = { (text: String) in
                        text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init).sorted()
                    }
                    let (a, b) = (sortedLines(chunks.text), sortedLines(whole.text))
                    #expect(a == b, "\(detail) \(format): only small \(Set(a).subtracting(b)), only large \(Set(b).subtracting(a))")
                    if format == .jsonl {
                        for line in chunks.text.split(separator: "\n") {
                            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
                        }
                    }
                }
            }
            // A consumer that fails mid-export (a client that went away) stops it; the pool stays usable.
            struct Gone: Error {}
            var stopping = UsageExport(
                root: fixture.reseller.id, scope: .descendants, period: period, grouping: .day, detail: .entries, format: .csv)
            stopping.entryBatchSize = 2
            let seen = Chunks()
            await #expect(throws: Gone.self) {
                try await stopping.run(pool: pool) { text, rows in
                    seen.append(text)
                    if rows > 0 { throw Gone() }
                }
            }
            #expect(seen.count == 2)  // the header and one batch, nothing after the failure
            #expect(try await pool.withConnection { $0.isHealthy })

            // Through the API, an entries export in JSON Lines.
            let reply = try await api.client.execute(
                uri: "/v1/accounts/\(fixture.reseller.id.lower)/usage/export?from=\(Self.start)&to=\(Self.today)&scope=descendants&detail=entries&format=jsonl",
                method: .get, headers: [.authorization: "Bearer \(admin!)"]
            ) { response in (response.status, response.headers[.contentType], String(buffer: response.body)) }
            #expect(reply.0 == .ok)
            #expect(reply.1?.hasPrefix("application/x-ndjson") == true)
            #expect(reply.2.split(separator: "\n").count > 20)
        }
    }
}

final class Chunks: @unchecked Sendable {
    private let lock = NSLock()
    private var parts = [String]()
    func append(_ text: String) { lock.withLock { if !text.isEmpty { parts.append(text) } } }
    var count: Int { lock.withLock { parts.count } }
    var text: String { lock.withLock { parts.joined() } }
}

/// A strict RFC 4180 reader for the tests.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var records = [[String]]()
        var record = [String]()
        var field = ""
        var quoted = false
        var characters = Array(text)
        characters.append("\u{0}")
        var index = 0
        while index < characters.count - 1 {
            let character = characters[index]
            if quoted {
                if character == "\"" {
                    if characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                record.append(field)
                field = ""
            } else if character == "\r\n" || character == "\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(character)
            }
            index += 1
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}
