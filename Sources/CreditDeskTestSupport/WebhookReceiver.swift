import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A webhook receiver on loopback for tests: a minimal HTTP/1.1 server (keep-alive, bodies by
/// Content-Length) that answers as `mode` says at the time each request arrives, and keeps
/// every request it read whole. Each connection is served on a thread of its own.
package final class WebhookReceiver: @unchecked Sendable {
    package enum Mode: Sendable, Equatable {
        /// Answer this status (200: delivered; 500: to be retried).
        case answer(Int)
        /// Read the request, never answer (the sender's timeout ends it).
        case hang
        /// Read the request and close the connection without a word.
        case close
    }

    package struct Request: Sendable, Equatable {
        package let headers: [String: String]
        package let body: [UInt8]
        /// The mode it met.
        package let mode: Mode

        package var text: String { String(decoding: body, as: UTF8.self) }
        package func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    package let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received: [Request] = []
    private var currentMode: Mode = .answer(200)
    /// Modes to use, one per request, before `currentMode`.
    private var scripted: [Mode] = []

    package var url: String { "http://127.0.0.1:\(port)/hooks" }

    package init() throws {
        (listener, port) = try LoopbackListener.open(backlog: 64, owner: "WebhookReceiver")
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// How the next requests are answered.
    package var mode: Mode {
        get { lock.withLock { currentMode } }
        set { lock.withLock { currentMode = newValue } }
    }

    /// Answers the next requests with `modes`, one each, then with `mode` again.
    package func script(_ modes: [Mode]) { lock.withLock { scripted += modes } }

    /// Every request read so far, in arrival order.
    package var requests: [Request] { lock.withLock { received } }

    /// Stops accepting; connections in progress end with their next request.
    package func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let thread = Thread { [self] in
                session(client)
                close(client)
            }
            thread.start()
        }
    }

    private func nextMode() -> Mode {
        lock.withLock { scripted.isEmpty ? currentMode : scripted.removeFirst() }
    }

    private func session(_ client: Int32) {
        var pending = [UInt8]()
        func fill() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            guard count > 0 else { return false }
            pending += buffer[..<count]
            return true
        }
        while true {
            let separator: [UInt8] = [13, 10, 13, 10]
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = pending.indices.dropLast(3).first { Array(pending[$0..<$0 + 4]) == separator }
                if headerEnd == nil, !fill() { return }
            }
            let head = String(decoding: pending[..<headerEnd!], as: UTF8.self)
            pending.removeSubrange(..<(headerEnd! + 4))
            var headers: [String: String] = [:]
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while pending.count < length { if !fill() { return } }
            let body = Array(pending[..<length])
            pending.removeSubrange(..<length)
            let mode = nextMode()
            lock.withLock { received.append(Request(headers: headers, body: body, mode: mode)) }
            switch mode {
            case .answer(let status):
                let text = "HTTP/1.1 \(status) Test\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
                _ = Array(text.utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            case .hang:
                // Until the sender gives up and closes its side.
                while fill() {}
                return
            case .close:
                return
            }
        }
    }
}
