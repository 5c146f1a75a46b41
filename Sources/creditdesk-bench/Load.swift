import ArgumentParser
import CreditDeskGateway
import Foundation

/// Closed-loop load: each client thread keeps one keep-alive connection and sends its next
/// request as soon as the previous one is answered, for a fixed time.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Credit adjustments, balance reads or single sends from concurrent clients; prints JSON.")

    enum Mode: String, ExpressibleByArgument {
        case adjust, balance, send, healthz
    }

    @OptionGroup var target: TargetOptions

    @Option(
        help:
            "adjust (POST credits/adjust, +1 SMS credit), balance (GET balances), send (POST messages, one SMS) or healthz (GET /healthz, the anchor)."
    )
    var mode: Mode

    @Option(help: "Comma-separated account ids; client i uses account i modulo their count (one id: a hot account).")
    var accounts: String

    @Option(help: "Concurrent clients, each on its own connection.")
    var clients = 16

    @Option(help: "How long to run.")
    var seconds = 20.0

    @Option(help: "Prefix of the idempotency keys, unique per run.")
    var keyPrefix = "load-\(UUID().uuidString.prefix(8))"

    func run() throws {
        let apiKey = try target.resolvedKey()
        let accountIDs = accounts.split(separator: ",").map(String.init)
        guard !accountIDs.isEmpty, clients > 0, seconds > 0 else { throw ValidationError("nothing to do") }
        let baseURL = target.baseURL
        let mode = mode
        let keyPrefix = keyPrefix
        let adjustBody = APIRequest.json(["unit": "sms", "amount": 1, "reason": "benchmark"])
        let results = Collector<(latencies: [UInt64], errors: Int, firstError: String?)>()
        let start = nowNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        runThreads(clients) { index in
            let client = BlockingHTTPClient(timeoutMilliseconds: 30_000)
            let account = accountIDs[index % accountIDs.count]
            var latencies: [UInt64] = []
            latencies.reserveCapacity(100_000)
            var errors = 0
            var firstError: String?
            var sequence = 0
            while nowNanoseconds() < deadline {
                sequence += 1
                let request =
                    switch mode {
                    case .adjust:
                        APIRequest(
                            method: "POST", path: "/v1/accounts/\(account)/credits/adjust", body: adjustBody,
                            idempotencyKey: "\(keyPrefix)-\(index)-\(sequence)")
                    case .balance:
                        APIRequest(method: "GET", path: "/v1/accounts/\(account)/balances", body: nil, idempotencyKey: nil)
                    case .healthz:
                        APIRequest(method: "GET", path: "/healthz", body: nil, idempotencyKey: nil)
                    case .send:
                        APIRequest(
                            method: "POST", path: "/v1/accounts/\(account)/messages",
                            body: APIRequest.json([
                                "to": "+6427\(String(format: "%03d%04d", index % 1000, sequence % 10_000))",
                                "text": "Your appointment is confirmed",
                            ]),
                            idempotencyKey: "\(keyPrefix)-\(index)-\(sequence)")
                    }
                let begin = nowNanoseconds()
                do {
                    let response = try request.send(client, baseURL: baseURL, apiKey: apiKey)
                    if (200..<300).contains(response.status) {
                        latencies.append(nowNanoseconds() - begin)
                    } else {
                        errors += 1
                        if firstError == nil { firstError = "\(response.status) \(response.text)" }
                    }
                } catch {
                    errors += 1
                    if firstError == nil { firstError = "\(error)" }
                }
            }
            results.add((latencies, errors, firstError))
        }
        let elapsed = Double(nowNanoseconds() - start) / 1e9
        let all = results.all
        let latencies = all.flatMap(\.latencies).sorted()
        var report: [String: Any] = [
            "mode": mode.rawValue, "clients": clients, "accounts": accountIDs.count, "seconds": elapsed,
            "ok": latencies.count, "errors": all.map(\.errors).reduce(0, +),
            "ops_per_second": Double(latencies.count) / elapsed,
            "p50_ms": percentileMilliseconds(latencies, 0.50), "p99_ms": percentileMilliseconds(latencies, 0.99),
        ]
        if let firstError = all.compactMap(\.firstError).first { report["first_error"] = firstError }
        printJSON(report)
    }
}

/// Bulk reservations: one request reserves credits for N messages.
struct BulkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulk", abstract: "Times bulk reservations of N messages each; prints JSON.")

    @OptionGroup var target: TargetOptions

    @Option(help: "The account to reserve on.")
    var account: String

    @Option(help: "Messages per request.")
    var messages = 100_000

    @Option(help: "Requests, one after another.")
    var repeats = 3

    func run() throws {
        let apiKey = try target.resolvedKey()
        let client = BlockingHTTPClient(timeoutMilliseconds: 300_000)
        let run = UUID().uuidString.prefix(8)
        var seconds: [Double] = []
        for attempt in 0..<repeats {
            // References like a campaign's per-recipient message ids; amounts of 1 to 3 segments.
            let items: [[String: Any]] = (0..<messages).map {
                ["amount": 1 + $0 % 3, "reference": "campaign-\(run)-\(attempt)-msg-\($0)"]
            }
            let body = APIRequest.json(["unit": "sms", "items": items])
            let request = APIRequest(
                method: "POST", path: "/v1/accounts/\(account)/reservations/bulk", body: body,
                idempotencyKey: "bulk-\(run)-\(attempt)")
            let begin = nowNanoseconds()
            let response = try request.send(client, baseURL: target.baseURL, apiKey: apiKey)
            let elapsed = Double(nowNanoseconds() - begin) / 1e9
            guard response.status == 201, let object = parseObject(response), object["count"] as? Int == messages else {
                throw ValidationError("bulk reservation failed: \(response.status) \(response.text.prefix(500))")
            }
            seconds.append(elapsed)
        }
        let best = seconds.min() ?? 0
        let median = seconds.sorted()[seconds.count / 2]
        printJSON([
            "messages_per_request": messages, "requests": repeats, "seconds": seconds,
            "messages_per_second_median": Double(messages) / median, "messages_per_second_best": Double(messages) / best,
        ])
    }
}
