import CLibCurl
import Foundation

/// What an HTTP exchange returned.
package struct HTTPResponse: Sendable {
    package let status: Int
    package let body: [UInt8]

    package var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why an HTTP exchange produced no response. `connect` means the request never reached the
/// server (safe to resend anything); `timeout` and `transport` mean it may or may not have.
package struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    package enum Kind: String, Sendable {
        case connect
        case timeout
        case transport
        case invalidRequest = "invalid_request"
    }

    package let kind: Kind
    package let message: String

    package var description: String { "HTTP \(kind.rawValue): \(message)" }
}

/// A blocking HTTP/1.1 client on one libcurl easy handle, which keeps its connection alive
/// between requests. Not thread-safe: each thread (a gateway worker, a load-generator client)
/// owns one. Never call it from an event loop or Swift's cooperative pool.
package final class BlockingHTTPClient {
    package let timeoutMilliseconds: Int
    package let connectTimeoutMilliseconds: Int
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private let sink = ResponseSink()

    /// Limit on a response body: a gateway answering more than this is misbehaving.
    package static let maximumResponseBytes = 64 * 1024 * 1024

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    package init(timeoutMilliseconds: Int = 10_000, connectTimeoutMilliseconds: Int = 3_000) {
        Self.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.handle = handle
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Sends one request and waits for the whole response.
    /// `resolve` pins host names to addresses (`host:port:address`, libcurl's CURLOPT_RESOLVE),
    /// so the address connected to is the one the caller checked.
    package func send(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, resolve: [String] = []
    ) throws(HTTPClientError) -> HTTPResponse {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw HTTPClientError(kind: .invalidRequest, message: "only http and https URLs are supported")
        }
        for (name, value) in headers where (name + value).contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw HTTPClientError(kind: .invalidRequest, message: "header \(name) contains a line break")
        }
        sink.reset()
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        // Without this curl waits for a `100 Continue` before sending bodies over 1 KiB.
        list = curl_slist_append(list, "Expect:")
        var pins: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(pins) }
        for entry in resolve {
            // An entry for the same host and port from an earlier request is dropped first.
            pins = curl_slist_append(pins, "-" + entry.split(separator: ":").prefix(2).joined(separator: ":"))
            pins = curl_slist_append(pins, entry)
        }
        _ = creditdesk_curl_set_slist(handle, CURLOPT_RESOLVE, pins)

        _ = creditdesk_curl_set_string(handle, CURLOPT_URL, url)
        _ = creditdesk_curl_set_slist(handle, CURLOPT_HTTPHEADER, list)
        _ = creditdesk_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = creditdesk_curl_set_long(handle, CURLOPT_TCP_NODELAY, 1)
        _ = creditdesk_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        _ = creditdesk_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
        _ = creditdesk_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = creditdesk_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = creditdesk_curl_set_write_function(handle, responseSinkWrite)
        _ = creditdesk_curl_set_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
        _ = creditdesk_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, nil)
        switch method {
        case "GET":
            _ = creditdesk_curl_set_long(handle, CURLOPT_HTTPGET, 1)
        default:
            let bytes = body ?? []
            _ = creditdesk_curl_set_long(handle, CURLOPT_POST, 1)
            _ = creditdesk_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count)
            if bytes.isEmpty {
                _ = creditdesk_curl_set_string(handle, CURLOPT_COPYPOSTFIELDS, "")
            } else {
                // COPYPOSTFIELDS copies, so the buffer need not outlive this call.
                _ = bytes.withUnsafeBytes { creditdesk_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
            }
            if method != "POST" { _ = creditdesk_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method) }
        }

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            let kind: HTTPClientError.Kind =
                switch code {
                case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST: .connect
                case CURLE_OPERATION_TIMEDOUT: .timeout
                default: .transport
                }
            throw HTTPClientError(kind: kind, message: sink.overflowed ? "response larger than the limit" : detail)
        }
        var status = 0
        _ = creditdesk_curl_response_code(handle, &status)
        return HTTPResponse(status: status, body: sink.bytes)
    }
}

/// Collects a response body for the C write callback.
private final class ResponseSink {
    var bytes: [UInt8] = []
    var overflowed = false

    func reset() {
        bytes.removeAll(keepingCapacity: true)
        overflowed = false
    }
}

private func responseSinkWrite(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard sink.bytes.count + length <= BlockingHTTPClient.maximumResponseBytes else {
        sink.overflowed = true
        return 0  // makes curl abort the transfer
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}
