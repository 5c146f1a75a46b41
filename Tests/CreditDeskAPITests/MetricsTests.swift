import CreditDeskCore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Testing

/// `GET /metrics`: behind its own token, Prometheus's text format, counting what happened with
/// labels that carry no tenant data. The registry is the process's (tests run side by side), so
/// counts are compared before and after, as at least what this test did.
@Suite("Metrics")
struct MetricsTests {
    static let token = "metrics-token-for-tests-0123456789"

    func scrape(_ api: API) async throws -> PrometheusText {
        let reply = try await api.call(.get, "/metrics", key: Self.token)
        #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        return try await scrapeMetrics(api)
    }

    @Test("without CREDITDESK_METRICS_TOKEN there is no metrics route (and no credentials are 401, as everywhere)")
    func disabled() async throws {
        try await withAPI { api, fixture, _ in
            let reply = try await api.call(.get, "/metrics", key: fixture.keys[.platformOperator]!)
            #expect(reply.status == .notFound)
            #expect(reply.errorCode == "not_found")
            #expect(try await api.call(.get, "/metrics", key: nil).status == .unauthorized)
        }
    }

    @Test("the token is required; an API key, even the operator's, is not it")
    func tokenRequired() async throws {
        try await withAPI(metricsToken: Self.token) { api, fixture, _ in
            for key in [nil, "wrong-token-of-the-same-length-000", fixture.keys[.platformOperator]!] {
                let reply = try await api.call(.get, "/metrics", key: key)
                #expect(reply.status == .unauthorized)
                #expect(reply.errorCode == "unauthorized")
                #expect(!reply.text.contains("creditdesk_"))
            }
        }
    }

    @Test("credit operations, replays, requests by route template, the pool and the queue are exported; no tenant data")
    func counts() async throws {
        try await withAPI(metricsToken: Self.token) { api, fixture, _ in
            // The operator's adjustments draw on issuance; a reseller's would need a funded pool.
            let key = fixture.keys[.platformOperator]!
            let path = "/v1/accounts/\(fixture.client.id.lower)/credits/adjust"
            let before = try await scrape(api)
            let body: [String: Any] = ["unit": "sms", "amount": 3, "reason": "metrics test"]
            #expect(try await api.call(.post, path, key: key, body: body, idempotencyKey: "metrics-1").status == .ok)
            let replay = try await api.call(.post, path, key: key, body: body, idempotencyKey: "metrics-1")
            #expect(replay.replayed)
            let refused = try await api.call(
                .post, path, key: key, body: ["unit": "sms", "amount": -1000, "reason": "too much"], idempotencyKey: "metrics-2")
            #expect(refused.status == .conflict || refused.status == .unprocessableContent)
            let after = try await scrape(api)

            let adjusts = ["kind": "adjust", "unit": "sms"]
            #expect(after.sum("creditdesk_credit_operations_total", adjusts) >= before.sum("creditdesk_credit_operations_total", adjusts) + 1)
            #expect(after.sum("creditdesk_idempotent_replays_total") >= before.sum("creditdesk_idempotent_replays_total") + 1)
            let route = ["http_route": "/v1/accounts/{id}/credits/adjust", "http_response_status_code": "200"]
            #expect(after.sum("http_requests_total", route) >= before.sum("http_requests_total", route) + 2)
            #expect(after.sum("http_server_request_duration_seconds_count", route) >= 2)
            #expect(after.has("http_server_request_duration_seconds_bucket"))
            #expect(after.has("creditdesk_db_pool_connections_in_use"))
            #expect(after.has("creditdesk_db_pool_waiters"))
            #expect(after.has("creditdesk_db_pool_wait_duration_seconds_bucket"))
            #expect(after.sum("creditdesk_jobs_due", ["kind": "send_message"]) >= 0 && after.has("creditdesk_jobs_due"))
            #expect(after.has("creditdesk_jobs_oldest_due_age_seconds"))
            #expect(after.sum("creditdesk_database_up") == 1)
            // Ids, names and keys stay out of the labels.
            let tenantData: [String] = [fixture.client.id.uuidString.lowercased(), fixture.reseller.id.uuidString.lowercased(), "Dental", key]
            for secret in tenantData {
                #expect(!after.raw.contains(secret))
            }
        }
    }
}

extension MetricsTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy")

    /// The metric names an expression uses (ours, Hummingbird's and the process's): label
    /// matchers and grouping labels taken out first.
    static func metricNames(_ expression: String) -> Set<String> {
        let bare = expression.replacing(/\{[^}]*\}/, with: "").replacing(/\bby \([^)]*\)/, with: "")
        return Set(bare.matches(of: /\b(?:creditdesk|http|process)_[a-z_]+/).map { String($0.output) })
    }

    @Test("every metric the Grafana dashboard and the alert rules in deploy/ use exists in /metrics")
    func dashboardMatchesMetrics() async throws {
        struct Dashboard: Decodable {
            struct Panel: Decodable {
                struct Target: Decodable { let expr: String }
                let title: String
                let targets: [Target]
            }
            let panels: [Panel]
        }
        let dashboard = try JSONDecoder().decode(
            Dashboard.self, from: Data(contentsOf: Self.deploy.appendingPathComponent("grafana/creditdesk-dashboard.json")))
        let alerts = try String(contentsOf: Self.deploy.appendingPathComponent("creditdesk-alerts.yml"), encoding: .utf8)
        var used: [(String, String)] = []
        for panel in dashboard.panels {
            for target in panel.targets { used += Self.metricNames(target.expr).map { (panel.title, $0) } }
        }
        for line in alerts.split(separator: "\n") where line.contains("expr:") {
            used += Self.metricNames(String(line)).map { ("alert rules", $0) }
        }
        #expect(dashboard.panels.count >= 10 && used.count >= 15)
        let names = used
        try await withAPI(metricsToken: Self.token) { api, _, _ in
            // Hummingbird counts a request once its answer is written: one before the scrape.
            #expect(try await api.call(.get, "/healthz", key: nil).status == .ok)
            let exported = Set(try await scrape(api).samples.map(\.name))
            for (panel, name) in names {
                #expect(exported.contains(name), "\(panel): \(name) is not exported")
            }
        }
    }
}

/// The daemon's `/metrics`, read with the tests' token.
func scrapeMetrics(_ api: API) async throws -> PrometheusText {
    let reply = try await api.call(.get, "/metrics", key: MetricsTests.token)
    #expect(reply.status == .ok)
    return PrometheusText(reply.text)
}

/// Polls `condition` (every 50 ms, up to 10 s): a count recorded just after a commit the test
/// has already seen.
func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<200 {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// Prometheus's text exposition format, read just enough to find samples by name and labels.
struct PrometheusText {
    let raw: String
    let samples: [(name: String, labels: [String: String], value: Double)]

    init(_ text: String) {
        raw = text
        samples = text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
            else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return (String(series), [:], value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            return (String(series[..<brace]), labels, value)
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }
}
