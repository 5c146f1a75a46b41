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
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard listener >= 0, bound == 0, listen(listener, 8) == 0 else {
            throw NSError(domain: "SMTPSink", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "cannot listen"])
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
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
