import ArgumentParser
import CreditDeskTestSupport
import Foundation

/// A real Kannel (bearerbox, smsbox, fake SMSC) for the browser test and the benchmarks, the
/// same one the Swift tests start. Prints one JSON line once Kannel is online, then runs
/// until SIGTERM or SIGINT, when it stops the boxes.
struct KannelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kannel", abstract: "Run a test Kannel until stopped (its sendsms port is --port-base + 3).")

    @Option(help: "First of four consecutive loopback ports (admin, box, SMSC, sendsms).")
    var portBase: Int

    @Option(help: "Where Kannel delivers inbound messages: the gateway connection's inbound URL with its token.")
    var inboundURL: String

    func run() async throws {
        let kannel = try await KannelGateway.start(ports: .init(base: portBase), inboundURL: inboundURL)
        // One line on standard output, written at once (a pipe would buffer print's).
        let line = "{\"send_url\":\"\(kannel.sendURL)\",\"directory\":\"\(kannel.directory.path)\"}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
        let (stop, signalled) = AsyncStream<Void>.makeStream()
        let sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler { signalled.yield() }
            source.resume()
            return source
        }
        // A dead smsbox is started again, as systemd would (Restart=on-failure), and said on stderr.
        let supervisor = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                if kannel.restartSmsboxIfItDied() {
                    FileHandle.standardError.write(Data("smsbox had exited; started again\n".utf8))
                }
            }
        }
        for await _ in stop { break }
        supervisor.cancel()
        sources.forEach { $0.cancel() }
        await kannel.stop()
    }
}
