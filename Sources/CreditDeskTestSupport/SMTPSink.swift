import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal SMTP server on loopback for tests: accepts every message and keeps it. Speaks just
/// enough of RFC 5321 for libcurl (EHLO/HELO, MAIL, RCPT, DATA, QUIT), one connection at a
/// time, on a thread of its own.
package final class SMTPSink: @unchecked Sendable {
    package struct Mail: Sendable, Equatable {
        package let from: String
        package let recipients: [String]
        package let data: String
    }

    package let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received: [Mail] = []

    package var url: String { "smtp://127.0.0.1:\(port)" }

    package init() throws {
        (listener, port) = try LoopbackListener.open(backlog: 8, owner: "SMTPSink")
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// The mail received so far.
    package var mails: [Mail] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Stops accepting; a connection in progress finishes.
    package func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            session(client)
            close(client)
        }
    }

    private func session(_ client: Int32) {
        var pending = [UInt8]()
        func send(_ line: String) { _ = Array((line + "\r\n").utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) } }
        func readLine() -> String? {
            while true {
                if let end = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<end], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                    pending.removeSubrange(...end)
                    return line
                }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                guard count > 0 else { return nil }
                pending += buffer[..<count]
            }
        }
        send("220 sink ESMTP")
        var from = "", recipients: [String] = []
        while let line = readLine() {
            let verb = line.prefix(4).uppercased()
            switch verb {
            case "EHLO", "HELO": send("250 sink")
            case "MAIL":
                from = String(line.drop { $0 != "<" }.dropFirst().prefix { $0 != ">" })
                recipients = []
                send("250 OK")
            case "RCPT":
                recipients.append(String(line.drop { $0 != "<" }.dropFirst().prefix { $0 != ">" }))
                send("250 OK")
            case "DATA":
                send("354 go ahead")
                var lines: [String] = []
                while let dataLine = readLine(), dataLine != "." {
                    lines.append(dataLine.hasPrefix("..") ? String(dataLine.dropFirst()) : dataLine)
                }
                lock.lock()
                received.append(Mail(from: from, recipients: recipients, data: lines.joined(separator: "\n")))
                lock.unlock()
                send("250 queued")
            case "QUIT":
                send("221 bye")
                return
            default: send("250 OK")
            }
        }
    }
}
