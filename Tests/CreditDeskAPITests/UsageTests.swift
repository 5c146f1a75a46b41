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

    func rows(_ reply: Reply, _ key: String = "rows") -> [[String: Any]] { reply[key] as? [[String: Any]] ?? [] }
    func int(_ row: [String: Any], _ key: String) -> Int64 { (row[key] as? NSNumber)?.int64Value ?? .min }

    /// Activity of every kind on the fixture's reseller and client.
    func activity(_ api: API, _ fixture: Fixture) async throws {
        let operatorKey = fixture.keys[.platformOperator]
        let admin = fixture.keys[.resellerAdmin]
        let user = fixture.keys[.clientUser]
        try await api.call(
            .post, "/v1/accounts/\(fixture.platform.id.lower)/credits/transfer", key: operatorKey,
            body: ["unit": "sms", "amount": 5_000, "to_account_id": fixture.reseller.id.lower])
        try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/credits/transfer", key: admin,
            body: ["unit": "sms", "amount": 300, "to_account_id": fixture.client.id.lower])
        let package = try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: admin,
            body: ["name": "Big", "sms_credits": 1_000, "price_minor": 2_500, "currency": "EUR"])
        try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/package-sales", key: admin, body: ["package_id": package.id])
        try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/credits/adjust", key: admin,
            body: ["unit": "sms", "amount": -40, "reason": "correction"])
        let reservation = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: user, body: ["unit": "sms", "amount": 90])
        try await api.call(.post, "/v1/reservations/\(reservation.id)/post", key: user, body: ["amount": 70])
        let charge = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/charges", key: user, body: ["unit": "sms", "amount": 15])
        try await api.call(
            .post, "/v1/entries/\((charge["id"] as? NSNumber)!.int64Value)/refund", key: admin,
            body: ["amount": 5, "reason": "failed"])
        // Still pending at report time: reserved, not consumed.
        try await api.call(.post, "/v1/accounts/\(fixture.client.id.lower)/reservations", key: user, body: ["unit": "sms", "amount": 11])
        let expiry = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/credits/expire", key: admin,
            body: ["unit": "sms", "amount": 25, "reason": "term ended"])
        #expect(expiry.status == .created)
    }

    @Test("every row reconciles: opening + in − out = closing, and closing is the balance")
    func reconciliation() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let admin = fixture.keys[.resellerAdmin]!
            let report = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?from=\(Self.start)&to=\(Self.today)&scope=descendants&group=month",
                key: admin)
            #expect(report.status == .ok)
            let client = rows(report).filter { $0["account_id"] as? String == fixture.client.id.lower && $0["unit"] as? String == "sms" }
            #expect(client.count == 1)
            let row = try #require(client.first)
            #expect(int(row, "granted") == 300 && int(row, "sold") == 1_000 && int(row, "removed") == 40)
            #expect(int(row, "consumed") == 85 && int(row, "refunded") == 5 && int(row, "opening") == 0)
            // Consumed splits into sent (posted reservations) and received (charges).
            #expect(int(row, "sent") == 70 && int(row, "received") == 15 && int(row, "expired") == 25)
            for row in rows(report) + rows(report, "totals") {
                #expect(int(row, "consumed") == int(row, "sent") + int(row, "received"))
                let flows = int(row, "opening") + int(row, "granted") + int(row, "sold") + int(row, "refunded")
                    - int(row, "consumed") - int(row, "expired") - int(row, "removed") - int(row, "transferred_out")
                #expect(flows == int(row, "closing"), "\(row)")
            }
            #expect(int(row, "closing") == (try await api.balance(fixture.client.id, .sms, key: admin)).posted)

            let own = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?from=\(Self.start)&to=\(Self.today)", key: admin)
            let reseller = try #require(rows(own).first { $0["unit"] as? String == "sms" })
            // The 40 removed from the client went back to the remover's (the reseller's) pool.
            #expect(int(reseller, "granted") == 5_040 && int(reseller, "transferred_out") == 1_300)
            #expect(int(reseller, "closing") == 3_740)
            let revenue = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?from=\(Self.start)&to=\(Self.today)&scope=children", key: admin)
            #expect(int(try #require(rows(revenue, "revenue").first), "amount_minor") == 2_500)

            // Split the period: the first part's closing is the second part's opening.
            let early = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/usage?from=2020-01-01&to=2020-02-01", key: admin)
            let earlySMS = try #require(rows(early).first { $0["unit"] as? String == "sms" })
            #expect(int(earlySMS, "opening") == 0 && int(earlySMS, "closing") == 0)
        }
    }

    @Test("expiry takes only unreserved credits, needs the parent, and is idempotent")
    func expiry() async throws {
        try await withAPI { api, fixture, pool in
            try await activity(api, fixture)
            let admin = fixture.keys[.resellerAdmin]!
            let path = "/v1/accounts/\(fixture.client.id.lower)/credits/expire"
            let before = try await api.balance(fixture.client.id, .sms, key: admin)
            #expect(before.posted == 1_155 && before.reserved == 11)

            let selfExpiry = try await api.call(.post, path, key: fixture.keys[.clientAdmin], body: ["unit": "sms"])
            #expect(selfExpiry.status == .forbidden)
            let tooMuch = try await api.call(.post, path, key: admin, body: ["unit": "sms", "amount": 1_145])
            #expect(tooMuch.status == .conflict && tooMuch.errorCode == "conflict")
            #expect((try await api.balance(fixture.client.id, .sms, key: admin)).posted == 1_155)

            // Everything unreserved; the pending reservation keeps its 11.
            let key = UUID().uuidString
            let all = try await api.call(.post, path, key: admin, body: ["unit": "sms"], idempotencyKey: key)
            #expect(all.status == .created && int(all.json ?? [:], "amount") == 1_144 && all["kind"] as? String == "expire")
            let replay = try await api.call(.post, path, key: admin, body: ["unit": "sms"], idempotencyKey: key)
            #expect(replay.status == .created && int(replay.json ?? [:], "id") == int(all.json ?? [:], "id"))
            let after = try await api.balance(fixture.client.id, .sms, key: admin)
            #expect(after.posted == 11 && after.reserved == 11 && after.available == 0)
            let nothing = try await api.call(.post, path, key: admin, body: ["unit": "sms"])
            #expect(nothing.status == .conflict)
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
            let base = "/v1/accounts/\(fixture.client.id.lower)/usage?from=2026-01-01&to=2026-04-01"
            let utc = try await api.call(.get, "\(base)&tz=UTC&group=day", key: key)
            let berlin = try await api.call(.get, "\(base)&tz=Europe/Berlin&group=day", key: key)
            let auckland = try await api.call(.get, "\(base)&tz=Pacific/Auckland&group=month", key: key)
            func buckets(_ reply: Reply) -> [String] {
                rows(reply).filter { $0["unit"] as? String == "sms" }.compactMap { $0["period_start"] as? String }
            }
            #expect(buckets(utc) == ["2026-01-31", "2026-03-01"])
            #expect(buckets(berlin) == ["2026-02-01", "2026-03-01"])
            // Auckland is UTC+13 in summer: both instants fall in the next local month/day.
            #expect(buckets(auckland) == ["2026-02-01", "2026-03-01"])
            let second = rows(berlin).first { $0["period_start"] as? String == "2026-03-01" && $0["unit"] as? String == "sms" }
            #expect(second.map { int($0, "opening") } == 7)
            #expect(second.map { int($0, "closing") } == 18)
            let bad = try await api.call(.get, "\(base)&tz=Mars/Olympus", key: key)
            #expect(bad.status == .badRequest)
            let backwards = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/usage?from=2026-02-01&to=2026-01-01", key: key)
            #expect(backwards.status == .badRequest)
        }
    }

    @Test("an empty period still lists every account in scope, with opening equal to closing")
    func emptyPeriod() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let report = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?from=2030-01-01&to=2030-01-02&scope=descendants",
                key: fixture.keys[.resellerAdmin])
            let all = rows(report)
            #expect(all.count == 2)  // the one client, sms and mms
            for row in all {
                #expect(int(row, "opening") == int(row, "closing"))
                #expect(int(row, "consumed") == 0)
            }
            #expect(all.contains { $0["unit"] as? String == "sms" && int($0, "opening") == 1_155 })
        }
    }

    @Test("a reseller sees only its subtree, a client only itself")
    func scoping() async throws {
        try await withAPI { api, fixture, _ in
            try await activity(api, fixture)
            let period = "from=\(Self.start)&to=\(Self.today)"
            let rival = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?\(period)", key: fixture.keys[.otherResellerAdmin])
            #expect(rival.status == .notFound)
            let rivalExport = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage/export?\(period)", key: fixture.keys[.otherResellerAdmin])
            #expect(rivalExport.status == .notFound)
            let platform = try await api.call(
                .get, "/v1/accounts/\(fixture.platform.id.lower)/usage?\(period)&scope=descendants",
                key: fixture.keys[.platformOperator])
            let resellerView = try await api.call(
                .get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?\(period)&scope=descendants",
                key: fixture.keys[.resellerBilling])
            let ids = Set(rows(resellerView).compactMap { $0["account_id"] as? String })
            #expect(ids == [fixture.client.id.lower])
            #expect(Set(rows(platform).compactMap { $0["account_id"] as? String }).contains(fixture.otherClient.id.lower))
            let client = fixture.keys[.clientReadonly]
            #expect(try await api.call(.get, "/v1/accounts/\(fixture.reseller.id.lower)/usage?\(period)", key: client).status == .notFound)
            let own = try await api.call(.get, "/v1/accounts/\(fixture.client.id.lower)/usage?\(period)", key: client)
            #expect(Set(rows(own).compactMap { $0["account_id"] as? String }) == [fixture.client.id.lower])
            let children = try await api.call(
                .get, "/v1/accounts/\(fixture.client.id.lower)/usage?\(period)&scope=children", key: client)
            #expect(rows(children).isEmpty)
        }
    }

    @Test("CSV exports quote names with commas, quotes and newlines per RFC 4180")
    func csvQuoting() async throws {
        try await withAPI { api, fixture, _ in
            let admin = fixture.keys[.resellerAdmin]
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
