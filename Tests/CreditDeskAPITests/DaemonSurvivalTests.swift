import CreditDeskDB
import CreditDeskGateway
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Testing

/// The requests that once killed the daemon, sent to the real `creditdesk serve` process: after
/// each one the process must still be running and answering.
@Suite("The daemon survives hostile requests", .serialized)
struct DaemonSurvivalTests {
    static let crashers: [(method: String, path: String, body: String?)] = [
        ("POST", "/v1/callbacks/twilio/00000000-0000-0000-0000-000000000000/inbound", "="),
        ("POST", "/v1/callbacks/twilio/00000000-0000-0000-0000-000000000000/status", "&=&"),
        ("POST", "/v1/callbacks/twilio/00000000-0000-0000-0000-000000000000/inbound", "From=%2B64215550100&NumMedia=-5"),
        ("GET", "/v1/accounts/ACCOUNT/usage?from=%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A1%D9%A1-%D9%A0%D9%A1&to=2026-12-01", nil),
        ("GET", "/v1/accounts/ACCOUNT/usage/export?from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-%EF%BC%91%EF%BC%91-%EF%BC%90%EF%BC%91&to=2026-12-01", nil),
        ("GET", "/v1/callbacks/kannel/00000000-0000-0000-0000-000000000000/dlr?message=x&status=%D9%A2", nil),
    ]

    @Test("each request that used to trap gets a 4xx, and the daemon stays up")
    func survives() async throws {
        let binary = try #require(TestBinaries.creditdesk(), "build the creditdesk executable first (make test does)")
        let url = try await TestCluster.shared.makeDatabase()
        let bootstrap = try await runBlocking {
            try Subprocess.run(binary.path, ["bootstrap", "--name", "Probe", "--database-url", url, "--log-level", "error"])
        }
        let key = try #require(bootstrap.output.firstMatch(of: /store it now\): (cdk_\S+)/)?.1).description
        let account = try #require(bootstrap.output.firstMatch(of: /platform account: (\S+)/)?.1).description
        let log = try makeTemporaryDirectory(prefix: "creditdesk-daemon").appendingPathComponent("daemon.log")
        let daemon = try BackgroundProcess(
            binary.path, ["serve", "--database-url", url, "--port", "0", "--no-migrate"], logPath: log.path)
        defer { daemon.stop() }
        let base = try await Self.listeningAddress(log: log, daemon: daemon)
        let client = BlockingHTTPClient(timeoutMilliseconds: 10_000)
        for crasher in Self.crashers {
            let response = try client.send(
                method: crasher.method, url: base + crasher.path.replacingOccurrences(of: "ACCOUNT", with: account),
                headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/x-www-form-urlencoded")],
                body: crasher.body.map { Array($0.utf8) })
            #expect((400..<500).contains(response.status), "\(crasher.path): \(response.status) \(response.text)")
            #expect(response.text.contains("\"error\""), "\(crasher.path)")
            #expect(!daemon.hasExited, "the daemon died on \(crasher.method) \(crasher.path)")
            #expect(try client.send(method: "GET", url: base + "/healthz").status == 200)
        }
    }

    /// The address the daemon logged once it listened on the port the system chose.
    static func listeningAddress(log: URL, daemon: BackgroundProcess) async throws -> String {
        for _ in 0..<600 where !daemon.hasExited {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let match = text.firstMatch(of: /listening on 127\.0\.0\.1:([0-9]+)/) {
                return "http://127.0.0.1:\(match.1)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw TestFailure(message: "the daemon did not start listening: \(text.suffix(2_000))")
    }

    struct TestFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
