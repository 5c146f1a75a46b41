import CreditDeskDB
import Foundation

/// A real Kannel for tests (Debian's `kannel` and `kannel-extras`): bearerbox, smsbox and the
/// fake SMSC client, on loopback ports chosen per run, in a temporary directory. MT messages
/// go in through HTTP sendsms; delivery reports and MO messages come back to CreditDesk's
/// callback URLs; `injectInbound` plays a handset texting in.
package final class KannelGateway: @unchecked Sendable {
    package static let username = "creditdesk"
    package var username: String { Self.username }
    package static let password = "kannel-test-password"
    package var password: String { Self.password }
    package let adminPort: Int
    package let sendPort: Int
    package let directory: URL
    private let bearerbox: BackgroundProcess
    private var smsbox: BackgroundProcess
    private let smsboxLock = NSLock()
    private let configurationPath: String
    private let fakeSMSC: BackgroundProcess

    /// Base URL of the sendsms interface (what a gateway connection's base_url names).
    package var sendURL: String { "http://127.0.0.1:\(sendPort)" }

    package static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/bearerbox")
            && FileManager.default.isExecutableFile(atPath: "/usr/lib/kannel/test/fakesmsc")
    }

    /// Four consecutive loopback ports below 32768, picked before Kannel starts, so that a
    /// gateway connection can name the sendsms address before Kannel (which needs the
    /// connection's inbound URL) is configured.
    package struct Ports: Sendable {
        package let base: Int

        package init(base: Int) { self.base = base }

        package static func random() -> Ports { Ports(base: Int.random(in: 2_000..<7_900) * 4) }

        package var sendURL: String { "http://127.0.0.1:\(base + 3)" }
    }

    /// Starts the three boxes; `inboundURL` receives MO messages (token included), and
    /// returns once the fake SMSC is online.
    package static func start(ports: Ports = .random(), inboundURL: String) async throws -> KannelGateway {
        try await runBlocking { try KannelGateway(ports: ports, inboundURL: inboundURL) }
    }

    private init(ports: Ports, inboundURL: String) throws {
        guard Self.isInstalled else {
            throw DatabaseError(.other, message: "Kannel is not installed: apt-get install kannel kannel-extras")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("creditdesk-kannel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        adminPort = ports.base
        let smscPort = ports.base + 2
        sendPort = ports.base + 3
        let log = directory.path
        let configuration = Self.configuration(ports: ports, log: log, inboundURL: inboundURL)
        let configurationPath = directory.appendingPathComponent("kannel.conf").path
        self.configurationPath = configurationPath
        try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        bearerbox = try BackgroundProcess("/usr/sbin/bearerbox", [configurationPath], logPath: "\(log)/bearerbox.out")
        usleep(300_000)
        smsbox = try BackgroundProcess("/usr/sbin/smsbox", [configurationPath], logPath: "\(log)/smsbox.out")
        // The fake SMSC reads handset messages from stdin and stops at end of file: `tail -f`
        // keeps its stdin open, and `injectInbound` appends to the file tail follows.
        FileManager.default.createFile(atPath: "\(log)/inbound.txt", contents: nil)
        fakeSMSC = try BackgroundProcess(
            "/bin/sh",
            ["-c", "tail -n 0 -f '\(log)/inbound.txt' | exec /usr/lib/kannel/test/fakesmsc -H 127.0.0.1 -r \(smscPort) -i 0"],
            logPath: "\(log)/fakesmsc.out")
        // Usually under a second; a loaded CI machine starting the whole suite can take far longer.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if Self.status(adminPort: adminPort).contains("online"), Self.smsboxReady(sendPort: sendPort) { return }
            usleep(100_000)
        }
        let tails = ["bearerbox.out", "smsbox.out", "fakesmsc.out"].map { name in
            let text = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return "\(name): " + text.split(separator: "\n").suffix(5).joined(separator: " | ")
        }
        stopAll()
        throw DatabaseError(.other, message: "Kannel did not come online in 60 s: \(tails.joined(separator: " ;; "))")
    }

    /// bearerbox, smsbox and the fake SMSC in one file; ports as `Ports` numbers them.
    static func configuration(ports: Ports, log: String, inboundURL: String) -> String {
        let base = ports.base
        let (adminPort, boxPort, smscPort, sendPort) = (base, base + 1, base + 2, base + 3)
        return """
            group = core
            admin-port = \(adminPort)
            admin-password = admin
            status-password = admin
            smsbox-port = \(boxPort)
            admin-allow-ip = "127.0.0.1"
            box-allow-ip = "127.0.0.1"
            dlr-storage = internal
            log-file = "\(log)/bearerbox.log"
            log-level = 1

            group = smsc
            smsc = fake
            smsc-id = fake
            port = \(smscPort)
            connect-allow-ip = "127.0.0.1"

            group = smsbox
            bearerbox-host = 127.0.0.1
            bearerbox-port = \(boxPort)
            sendsms-port = \(sendPort)
            mo-recode = true
            http-request-retry = 5
            http-queue-delay = 1
            log-file = "\(log)/smsbox.log"
            log-level = 1

            group = sendsms-user
            username = \(Self.username)
            password = \(Self.password)
            concatenation = true
            max-messages = 10

            group = sms-service
            keyword = default
            catch-all = true
            max-messages = 0
            get-url = "\(inboundURL)&from=%p&to=%P&text=%a&id=%I"

            """
    }

    /// A handset texting `text` from `from` to `to`, through the fake SMSC.
    package func injectInbound(from: String, to: String, text: String) {
        guard let handle = FileHandle(forWritingAtPath: directory.appendingPathComponent("inbound.txt").path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data("\(from) \(to) text \(text)\n".utf8))
        try? handle.close()
    }

    /// The MT messages the fake SMSC received, as its log shows them ("FROM TO text BODY").
    package func deliveredToSMSC() -> [String] {
        let log = (try? String(contentsOf: directory.appendingPathComponent("fakesmsc.out"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard let start = line.range(of: "Got message "), let open = line[start.upperBound...].firstIndex(of: "<"),
                let close = line.lastIndex(of: ">")
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }

    /// Starts smsbox again if it has died, as a service manager would; answers whether it did.
    /// Debian 12's smsbox can abort (an assertion in `conn_unregister`) when the daemon whose
    /// callbacks it is fetching is killed mid-request, as the fault tests do.
    package func restartSmsboxIfItDied() -> Bool {
        smsboxLock.lock()
        defer { smsboxLock.unlock() }
        guard smsbox.hasExited,
            let restarted = try? BackgroundProcess(
                "/usr/sbin/smsbox", [configurationPath], logPath: directory.appendingPathComponent("smsbox.out").path)
        else { return false }
        smsbox = restarted
        return true
    }

    package func stop() async {
        _ = try? await runBlocking { self.stopAll() }
    }

    private func stopAll() {
        // The fake SMSC first: it can abort with a double free if bearerbox goes first.
        // Ending tail closes the fake SMSC's stdin, which ends it; then the shell goes.
        _ = try? Subprocess.run("/usr/bin/pkill", ["-f", "tail -n 0 -f \(directory.path)/inbound.txt"])
        fakeSMSC.stop(seconds: 3)
        smsboxLock.withLock { smsbox }.stop(seconds: 3)
        bearerbox.stop(seconds: 3)
        // KEEP_KANNEL=1 keeps the configuration and logs, to debug a failing test.
        if ProcessInfo.processInfo.environment["KEEP_KANNEL"] == nil { try? FileManager.default.removeItem(at: directory) }
    }

    private static func status(adminPort: Int) -> String {
        (try? Subprocess.run(
            "/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(adminPort)/status.txt?password=admin"]))?.output ?? ""
    }

    private static func smsboxReady(sendPort: Int) -> Bool {
        let result = try? Subprocess.run(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://127.0.0.1:\(sendPort)/"])
        return (result?.output ?? "000") != "000"
    }
}
