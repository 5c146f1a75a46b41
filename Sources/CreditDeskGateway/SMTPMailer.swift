import CLibCurl
import Foundation

/// Sends plain-text mail through an SMTP relay with libcurl (smtp:// or smtps://; credentials
/// in the URL's user part when the relay wants them). Blocking: call it off the event loops,
/// like `BlockingHTTPClient`.
package struct SMTPMailer: Sendable {
    package let url: String
    package let from: String
    package let timeoutMilliseconds: Int

    package init(url: String, from: String, timeoutMilliseconds: Int = 10_000) {
        self.url = url
        self.from = from
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    package struct Failure: Error, CustomStringConvertible, Sendable {
        package let message: String
        package var description: String { "SMTP: \(message)" }
    }

    /// The RFC 5322 message: headers stripped of line breaks (no header injection), the body
    /// with CRLF line ends.
    package func message(to: String, subject: String, body: String, date: Date = Date()) -> [UInt8] {
        func header(_ value: String) -> String { value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let normalized = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let text = [
            "From: \(header(from))", "To: \(header(to))", "Subject: \(header(subject))", "Date: \(formatter.string(from: date))",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
            normalized,
        ].joined(separator: "\r\n")
        return Array(text.utf8)
    }

    package func send(to: String, subject: String, body: String) throws(Failure) {
        guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else { throw Failure(message: "the relay URL must be smtp:// or smtps://") }
        guard !(to + from).contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) else {
            throw Failure(message: "addresses must not contain line breaks or angle brackets")
        }
        guard let handle = curl_easy_init() else { throw Failure(message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        let source = MailSource(message(to: to, subject: subject, body: body))
        let recipients = curl_slist_append(nil, "<\(to)>")
        defer { curl_slist_free_all(recipients) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        _ = creditdesk_curl_set_string(handle, CURLOPT_URL, url)
        _ = creditdesk_curl_set_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
        _ = creditdesk_curl_set_slist(handle, CURLOPT_MAIL_RCPT, recipients)
        _ = creditdesk_curl_set_long(handle, CURLOPT_UPLOAD, 1)
        _ = creditdesk_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = creditdesk_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        _ = creditdesk_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = creditdesk_curl_set_read_function(handle, mailSourceRead)
        _ = creditdesk_curl_set_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
        let code = withExtendedLifetime(source) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            throw Failure(message: errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code)))
        }
    }
}

/// The message bytes, handed to curl's read callback piece by piece.
private final class MailSource {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

private func mailSourceRead(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let buffer, let context else { return 0 }
    let source = Unmanaged<MailSource>.fromOpaque(context).takeUnretainedValue()
    let length = min(size * count, source.bytes.count - source.offset)
    guard length > 0 else { return 0 }
    source.bytes.withUnsafeBytes { raw in
        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + source.offset, byteCount: length)
    }
    source.offset += length
    return length
}
