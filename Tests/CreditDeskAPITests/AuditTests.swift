import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import HTTPTypes
import Testing

@testable import CreditDeskConsole

/// The audit log on the real API and database: one row per change with its before → after,
/// never a secret, append-only, numbered without gaps, scoped to the reader's subtree.
@Suite("Audit log")
struct AuditTests {
    typealias Event = Components.Schemas.AuditEvent

    /// Every row of `account`'s subtree, newest first, read page by page as `key`.
    static func events(_ api: API, _ account: UUID, key: String?, query: String = "", limit: Int = 100) async throws
        -> [Event]
    {
        var events: [Event] = []
        var cursor: String? = nil
        repeat {
            let page = "limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "") + (query.isEmpty ? "" : "&\(query)")
            let reply = try await api.call(.get, "/v1/accounts/\(account.lower)/audit?\(page)", key: key)
            #expect(reply.status == .ok, "\(reply.text)")
            let decoded = try reply.decode(Components.Schemas.AuditPage.self)
            events += decoded.items
            cursor = decoded.nextCursor
        } while cursor != nil
        return events
    }

    static func change(_ event: Event?, _ field: String) -> (before: String?, after: String?) {
        let change = event?.changes.first { $0.field == field }
        func text(_ value: Components.Schemas.AuditValue?) -> String? {
            switch value {
            case .case1(let text): text
            case .case2(let number): String(number)
            case .case3(let flag): String(flag)
            case .case4(let list): list.joined(separator: ",")
            case nil: nil
            }
        }
        return (text(change?.before), text(change?.after))
    }

    /// One of every audited change the API makes, by the reseller's admin; answers the secrets
    /// it was shown (a key, a callback token) and the revoked key's id.
    static func changeEverything(_ api: API, _ fixture: Fixture) async throws -> (String, String, String) {
        let reseller = fixture.keys[.resellerAdmin]!
        let client = "/v1/accounts/\(fixture.client.id.lower)"
        let replayKey = UUID().uuidString
        for _ in 0..<2 {  // the replay writes nothing more
            try await api.call(
                .post, "/v1/accounts", key: reseller, body: ["parent_id": fixture.reseller.id.lower, "kind": "client", "name": "Shop"],
                idempotencyKey: replayKey)
        }
        try await api.call(.patch, client, key: reseller, body: ["name": "Dental Care"])
        try await api.call(.patch, client, key: reseller, body: ["name": "Dental Care"])  // no change, no row
        try await api.call(.patch, client, key: reseller, body: ["status": "suspended"])
        try await api.call(.patch, client, key: reseller, body: ["status": "active"])
        try await api.call(.patch, "\(client)/features", key: reseller, body: ["campaigns": true, "mms": false])
        try await api.call(.put, "\(client)/credit-limit", key: reseller, body: ["unit": "sms", "credit_limit": 25])
        try await api.call(.put, "\(client)/caps", key: reseller, body: ["sms_per_day": 1_000])
        let user = try await api.call(
            .post, "\(client)/users", key: reseller, body: ["name": "Agent", "email": "agent@example.com", "role": "user"]
        ).id
        let created = try await api.call(.post, "/v1/users/\(user)/keys", key: reseller, body: ["label": "laptop"])
        let newKey = try created.decode(Components.Schemas.NewKey.self)
        let (secret, keyID) = (newKey.secret ?? "", newKey.key.id.uuid.lower)
        try await api.call(.delete, "/v1/keys/\(keyID)", key: reseller)
        try await api.call(.put, "/v1/users/\(user)/password", key: reseller, body: ["password": "correct horse battery"])
        let package = try await api.call(
            .post, "/v1/accounts/\(fixture.reseller.id.lower)/packages", key: reseller,
            body: ["name": "Starter", "sms_credits": 100, "price_minor": 900, "currency": "EUR"]
        ).id
        try await api.call(.patch, "/v1/packages/\(package)", key: reseller, body: ["active": false])
        try await api.call(.put, "/v1/accounts/\(fixture.reseller.id.lower)/rates/44", key: reseller, body: ["credits_per_segment": 3])
        let gateway = try await api.call(.post, "\(client)/gateways", key: reseller, body: HardeningTests.gatewayBody(userID: nil))
        let callbackToken = try gateway.decode(Components.Schemas.Gateway.self).callbackToken ?? ""
        try await api.call(.put, "/v1/gateways/\(gateway.id)/limits", key: reseller, body: ["max_concurrency": 4, "max_messages_per_second": 50])
        try await api.call(.put, "/v1/users/\(user)/reply-routing", key: reseller, body: ["channel": "email"])
        try await api.call(.put, "\(client)/messaging-settings", key: reseller, body: ["reply_match_order": ["work_phone", "mobile"]])
        try await api.call(.post, "\(client)/opt-outs", key: reseller, body: ["phones": ["+64215550100", "+64215550101"]])
        try await api.call(.delete, "\(client)/opt-outs/%2B64215550100", key: reseller)
        try await api.call(.put, "\(client)/balance-alerts/sms", key: reseller, body: ["below": 100])
        try await api.call(.put, "\(client)/auto-top-ups/sms", key: reseller, body: ["below": 100, "amount": 500])
        let webhook = try await api.call(
            .post, "\(client)/webhooks", key: reseller, body: ["url": "https://crm.example.com/hooks", "events": ["message.status"]]
        ).id
        try await api.call(.patch, "\(client)/webhooks/\(webhook)", key: reseller, body: ["events": ["message.status", "balance.low"]])
        try await api.call(.delete, "\(client)/webhooks/\(webhook)", key: reseller)

        return (secret, keyID, callbackToken)
    }

    @Test("each audited change appears exactly once, with before → after, its actor and key, and no secret")
    func everyAction() async throws {
        try await withAPI(messaging: try HardeningTests.messaging()) { api, fixture, pool in
            let op = fixture.keys[.platformOperator]!
            let (secret, keyID, callbackToken) = try await Self.changeEverything(api, fixture)
            let all = try await Self.events(api, fixture.platform.id, key: op, query: "actor=\(fixture.users[.resellerAdmin]!.lower)")
            let counts = Dictionary(grouping: all, by: \.action).mapValues(\.count)
            let expected = AuditAction.allCases.map(\.rawValue)
            // Console-only changes and approvals have tests of their own.
            let elsewhere: Set<String> = ["user.password_link_created", "user.language_changed"]
            let here = expected.filter { !elsewhere.contains($0) && !$0.hasPrefix("approval") }
            #expect(counts == Dictionary(uniqueKeysWithValues: here.map { ($0, 1) }))
            let byAction = Dictionary(all.map { ($0.action, $0) }) { first, _ in first }
            #expect(Self.change(byAction["account.renamed"], "name") == ("Dental", "Dental Care"))
            #expect(Self.change(byAction["account.suspended"], "status") == ("active", "suspended"))
            #expect(Self.change(byAction["account.reactivated"], "status") == ("suspended", "active"))
            #expect(Self.change(byAction["features.changed"], "campaigns").after == "true")
            #expect(byAction["features.changed"]?.changes.map(\.field).contains("international") == false)
            #expect(Self.change(byAction["credit_limit.changed"], "sms_credit_limit") == ("0", "25"))
            #expect(Self.change(byAction["caps.changed"], "sms_per_day") == (nil, "1000"))
            #expect(Self.change(byAction["package.updated"], "active") == ("true", "false"))
            #expect(byAction["package.updated"]?.changes.count == 1)
            #expect(Self.change(byAction["rate.set"], "credits_per_segment") == (nil, "3"))
            #expect(byAction["rate.set"]?.objectId == "44")
            #expect(Self.change(byAction["gateway.limits_changed"], "max_messages_per_second") == (nil, "50"))
            #expect(Self.change(byAction["reply_match_order.changed"], "order").after == "work_phone,mobile")
            #expect(Self.change(byAction["opt_outs.added"], "count").after == "2")
            #expect(byAction["opt_out.removed"]?.objectId == "+64215550100")
            #expect(byAction["key.revoked"]?.objectId == keyID)
            for event in all {
                #expect(event.actorKeyId != nil && event.channel == .api && event.requestId != nil)
                #expect(event.accountId.uuid == fixture.client.id || event.objectType != "account" || event.action == "account.created")
            }
            // No secret anywhere in the log, however it is read.
            let export = try await api.call(.get, "/v1/accounts/\(fixture.platform.id.lower)/audit/export?format=jsonl", key: op).text
            let page = try await api.call(.get, "/v1/accounts/\(fixture.platform.id.lower)/audit?limit=500", key: op).text
            for text in [export, page] {
                for secretValue in [secret, callbackToken, "correct horse battery", "\"p\""] where !secretValue.isEmpty {
                    #expect(!text.contains(secretValue))
                }
                #expect(!text.contains("$2"))  // no bcrypt hash
            }
            try await verifyClean(pool)
        }
    }

    @Test("the log refuses UPDATE, DELETE and TRUNCATE, whoever asks")
    func appendOnly() async throws {
        try await withAPI { api, fixture, pool in
            try await api.call(
                .patch, "/v1/accounts/\(fixture.client.id.lower)", key: fixture.keys[.resellerAdmin], body: ["name": "Renamed"])
            for statement in ["UPDATE audit_log SET action = 'account.created'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
                await #expect(throws: DatabaseError.self, "\(statement)") {
                    try await pool.withTransaction { _ = try $0.execute(statement) }
                }
            }
            let rows = try await pool.withConnection {
                try $0.execute("SELECT count(*) AS n FROM audit_log WHERE action = 'account.renamed'").single().decode(Int64.self, "n")
            }
            #expect(rows == 1)
        }
    }

    @Test("a reader sees its subtree only: 404 across tenants, 403 for agents; filters and pages")
    func scopeAndFilters() async throws {
        try await withAPI { api, fixture, _ in
            let reseller = fixture.keys[.resellerAdmin]!
            for index in 0..<7 {
                try await api.call(
                    .patch, "/v1/accounts/\(fixture.client.id.lower)", key: reseller, body: ["name": "Dental \(index)"])
            }
            try await api.call(
                .patch, "/v1/accounts/\(fixture.otherClient.id.lower)", key: fixture.keys[.platformOperator],
                body: ["name": "Bakery 2"])
            let clientAudit = "/v1/accounts/\(fixture.client.id.lower)/audit"
            #expect(try await api.call(.get, clientAudit, key: fixture.keys[.otherResellerAdmin]).status == .notFound)
            #expect(try await api.call(.get, clientAudit, key: fixture.keys[.clientUser]).status == .forbidden)
            #expect(try await api.call(.get, clientAudit, key: fixture.keys[.clientReadonly]).status == .forbidden)
            for actor in [Fixture.Actor.clientAdmin, .resellerSupport, .resellerBilling, .platformBilling] {
                #expect(try await api.call(.get, clientAudit, key: fixture.keys[actor]).status == .ok, "\(actor)")
            }
            // The reseller's subtree holds its client's renames, never the rival's.
            let mine = try await Self.events(api, fixture.reseller.id, key: reseller, query: "action=account.renamed", limit: 3)
            #expect(mine.count == 7)
            #expect(mine.map(\.seq) == mine.map(\.seq).sorted(by: >))
            #expect(Set(mine.map(\.accountId.uuid)) == [fixture.client.id])
            let chain = mine.reversed().map { Self.change($0, "name") }
            for (earlier, later) in zip(chain, chain.dropFirst()) { #expect(earlier.after == later.before) }
            let rival = try await Self.events(api, fixture.otherReseller.id, key: fixture.keys[.otherResellerAdmin]!)
            #expect(rival.allSatisfy { $0.accountId.uuid != fixture.client.id } && rival.contains { $0.action == "account.renamed" })
            // Filters: object, actor, period.
            let byObject = try await Self.events(api, fixture.platform.id, key: fixture.keys[.platformOperator], query: "object=\(fixture.otherClient.id.lower)")
            #expect(byObject.map(\.action).contains("account.renamed") && byObject.allSatisfy { $0.objectId == fixture.otherClient.id.lower })
            let future = ISO8601.format(Date().addingTimeInterval(3600)).replacingOccurrences(of: "+", with: "%2B")
            #expect(try await Self.events(api, fixture.reseller.id, key: reseller, query: "from=\(future)").isEmpty)
            #expect(try await Self.events(api, fixture.reseller.id, key: reseller, query: "from=\(future)&to=\(future)").isEmpty)
            let bad = try await api.call(.get, "\(clientAudit)?object=%01", key: reseller)
            #expect(bad.status == .badRequest && bad.errorField == "object")
            #expect(try await api.call(.get, "\(clientAudit)?action=account.deleted", key: reseller).status == .badRequest)
            let export = try await api.call(.get, "\(clientAudit)/export?action=account.renamed", key: reseller)
            let lines = export.text.split(separator: "\r\n")
            #expect(lines.first == Substring(AuditExport.columns.joined(separator: ",")))
            #expect(lines.count == 8)
            #expect(try await api.call(.get, "\(clientAudit)/export?actor=nope", key: reseller).errorField == "actor")
            #expect(try await api.call(.get, "\(clientAudit)/export", key: fixture.keys[.otherResellerAdmin]).status == .notFound)
        }
    }

    @Test("concurrent changes of one tenant are numbered 1…n without gaps, each before the previous after")
    func concurrentNumbering() async throws {
        try await withAPI { api, fixture, pool in
            let reseller = fixture.keys[.resellerAdmin]!
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let path = index % 2 == 0 ? "/v1/accounts/\(fixture.client.id.lower)" : "/v1/accounts/\(fixture.client.id.lower)/credit-limit"
                        let body: [String: Any] = index % 2 == 0 ? ["name": "Name \(index)"] : ["unit": "sms", "credit_limit": index]
                        let reply = try await api.call(index % 2 == 0 ? .patch : .put, path, key: reseller, body: body)
                        #expect(reply.status == .ok, "\(reply.text)")
                    }
                }
                try await group.waitForAll()
            }
            let events = try await Self.events(api, fixture.reseller.id, key: reseller).reversed()
            let seqs = events.map(\.seq)
            #expect(seqs == Array(seqs.first!...seqs.last!))
            for field in ["name", "sms_credit_limit"] {
                let chain = events.filter { $0.action == "account.renamed" || $0.action == "credit_limit.changed" }
                    .compactMap { event in event.changes.contains { $0.field == field } ? Self.change(event, field) : nil }
                #expect(chain.count == 12)
                for (earlier, later) in zip(chain, chain.dropFirst()) { #expect(earlier.after == later.before, "\(field)") }
            }
            try await verifyClean(pool)
            // A gap (a number taken and its row missing) is what verify reports.
            try await pool.withTransaction { connection in
                _ = try connection.execute("UPDATE audit_sequences SET last_seq = last_seq + 1 WHERE tenant_id = $1", [fixture.reseller.tenantID])
            }
            let violations = try await pool.withConnection { try VerifyStore.verify($0) }
            #expect(violations.map(\.check) == ["the audit log numbers each tenant's changes 1, 2, 3… without a gap"])
        }
    }

    @Test("a console action is logged with its session and address; the console's audit page shows it")
    func console() async throws {
        try await withAPI { api, fixture, pool in
            let email = try await ConsoleTests().resellerAdmin(fixture, pool)
            let browser = ConsoleBrowser(api.client)
            _ = try await browser.signIn(email, ConsoleTests.password)
            let csrf = try #require(try await browser.get("/console").field("csrf"))
            let clientPath = "/console/clients/\(fixture.client.id.lower)"
            let form = [("csrf", csrf), ("form_key", freshKey()), ("status", "suspended")]
            _ = try await browser.post("\(clientPath)/status", form)
            _ = try await browser.post("\(clientPath)/status", form)  // a resubmitted form: applied once
            let events = try await Self.events(
                api, fixture.client.id, key: fixture.keys[.resellerAdmin], query: "action=account.suspended")
            let event = try #require(events.first)
            #expect(events.count == 1)
            #expect(event.channel == .console && event.actorSessionId != nil && event.actorKeyId == nil)
            let session = try await pool.withConnection {
                try $0.execute("SELECT id FROM console_sessions WHERE user_id = $1", [event.actorUserId!.uuid]).single()
                    .decode(UUID.self, "id")
            }
            #expect(event.actorSessionId?.uuid == session)
            let page = try await browser.get("/console/audit?action=account.suspended")
            #expect(page.html.contains("account.suspended") && page.html.contains("status: active → suspended"))
            #expect(page.html.contains("Rita Admin"))
            #expect(try await browser.get("/console").html.contains("href=\"/console/audit\""))
            // The console's own changes: a one-time password link (never its token) and a language.
            let omar = try await pool.withTransaction { connection in
                try UserStore.createUser(connection, account: fixture.client, name: "Omar", email: "omar@dental.example", role: .admin)
            }
            let link = try await browser.post("/console/users/\(omar.id.lower)/password-link", [("csrf", csrf), ("form_key", freshKey())])
            let token = try #require(link.html.firstMatch(of: /\/console\/password\/([A-Za-z0-9_-]+)</)?.output.1)
            _ = try await browser.post("/console/settings/language", [("csrf", csrf), ("form_key", freshKey()), ("language", "fr")])
            let changes = try await Self.events(api, fixture.reseller.id, key: fixture.keys[.resellerAdmin])
            let linkEvent = try #require(changes.first { $0.action == "user.password_link_created" })
            #expect(linkEvent.objectId == omar.id.lower && linkEvent.channel == .console)
            #expect(Self.change(changes.first { $0.action == "user.language_changed" }, "language") == (nil, "fr"))
            let everything = try await api.call(
                .get, "/v1/accounts/\(fixture.platform.id.lower)/audit/export?format=jsonl", key: fixture.keys[.platformOperator])
            #expect(!everything.text.contains(String(token)))
        }
    }
}
