import ArgumentParser
import CreditDeskGateway
import Foundation

/// The gateway's own rate, the anchor of the messaging benchmark: sendsms requests straight to
/// Kannel's smsbox from concurrent keep-alive clients, as CreditDesk's senders make them.
struct SendSMSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendsms", abstract: "Kannel sendsms requests from concurrent clients; prints JSON.")

    @Option(help: "smsbox's sendsms address, e.g. http://127.0.0.1:13013.")
    var sendURL: String

    @Option(help: "The sendsms user.")
    var username = "creditdesk"

    @Option(help: "Its password (env KANNEL_PASSWORD).")
    var password: String?

    @Option(help: "Requests in all.")
    var requests = 20_000

    @Option(help: "Concurrent clients, each on its own connection.")
    var clients = 16

    @Option(help: "Ask for delivery reports (the mask CreditDesk asks for) to this address; none when absent.")
    var dlrURL: String?

    func run() throws {
        let password = password ?? ProcessInfo.processInfo.environment["KANNEL_PASSWORD"] ?? ""
        // Encoded as the daemon encodes its own (`GatewayClient.kannelURL`).
        let reports = dlrURL.map {
            "&" + GatewayClient.formEncode([("dlr-mask", String(GatewayClient.kannelReportMask)), ("dlr-url", $0)])
        }
        let credentials = "username=\(username)&password=\(password)" + (reports ?? "")
        let query: @Sendable (Int) -> String = { index in
            "\(credentials)&from=%2B6421000000&to=%2B6422\(String(format: "%07d", index))&text=anchor+\(index)"
        }
        let perClient = requests / max(clients, 1)
        let results = Collector<(accepted: Int, errors: Int, firstError: String?)>()
        let start = nowNanoseconds()
        let sendURL = sendURL
        runThreads(clients) { client in
            let http = BlockingHTTPClient(timeoutMilliseconds: 30_000)
            var accepted = 0, errors = 0
            var firstError: String?
            for sequence in 0..<perClient {
                let index = client * perClient + sequence
                do {
                    let response = try http.send(method: "GET", url: "\(sendURL)/cgi-bin/sendsms?\(query(index))")
                    if (200..<300).contains(response.status) { accepted += 1 } else {
                        errors += 1
                        firstError = firstError ?? "HTTP \(response.status): \(response.text.prefix(200))"
                    }
                } catch {
                    errors += 1
                    firstError = firstError ?? "\(error)"
                }
            }
            results.add((accepted, errors, firstError))
        }
        let seconds = Double(nowNanoseconds() - start) / 1e9
        let accepted = results.all.reduce(0) { $0 + $1.accepted }
        var report: [String: Any] = [
            "requests": perClient * clients, "accepted": accepted, "errors": results.all.reduce(0) { $0 + $1.errors },
            "seconds": seconds, "per_second": Double(accepted) / seconds,
        ]
        if let firstError = results.all.compactMap(\.firstError).first { report["first_error"] = firstError }
        printJSON(report)
    }
}
