import ArgumentParser
import CreditDeskGateway
import Foundation

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "creditdesk-bench",
        abstract: "Load generator and fault injector for a running creditdesk daemon (make bench, make chaos).",
        subcommands: [LoadCommand.self, BulkCommand.self, ChaosCommand.self, KannelCommand.self, SendSMSCommand.self])
}

/// Options every subcommand shares: where the daemon is and whose key to use.
struct TargetOptions: ParsableArguments {
    @Option(help: "Base URL of the daemon, e.g. http://127.0.0.1:8080.")
    var baseURL: String

    @Option(help: "API key (env CREDITDESK_KEY).")
    var key: String?

    func resolvedKey() throws -> String {
        guard let key = key ?? ProcessInfo.processInfo.environment["CREDITDESK_KEY"], !key.isEmpty else {
            throw ValidationError("an API key is needed: --key or CREDITDESK_KEY")
        }
        return key
    }
}

/// A JSON request to the daemon with its key and, for mutations, an idempotency key.
struct APIRequest {
    let method: String
    let path: String
    let body: [UInt8]?
    let idempotencyKey: String?

    func send(_ client: BlockingHTTPClient, baseURL: String, apiKey: String) throws(HTTPClientError) -> HTTPResponse {
        var headers = [("Authorization", "Bearer \(apiKey)")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return try client.send(method: method, url: baseURL + path, headers: headers, body: body)
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}

func parseObject(_ response: HTTPResponse) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
}

func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

/// Monotonic nanoseconds.
func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Runs `body(index)` on `count` dedicated threads (blocking I/O never touches Swift's
/// cooperative pool) and returns when all have finished.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// Per-thread results, merged once the threads are done.
final class Collector<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []

    func add(_ value: Value) {
        lock.lock()
        values.append(value)
        lock.unlock()
    }

    var all: [Value] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// The latency at quantile `q` of sorted nanosecond samples, in milliseconds.
func percentileMilliseconds(_ sorted: [UInt64], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let index = min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)
    return Double(sorted[max(0, index)]) / 1_000_000
}
