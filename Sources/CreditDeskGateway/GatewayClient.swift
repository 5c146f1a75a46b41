import CreditDeskCore
import Foundation

/// A message as a gateway needs it.
package struct OutboundMessage: Sendable {
    package var id: UUID
    package var from: String
    package var to: String
    package var text: String
    package var mediaURLs: [String]

    package init(id: UUID, from: String, to: String, text: String, mediaURLs: [String]) {
        self.id = id
        self.from = from
        self.to = to
        self.text = text
        self.mediaURLs = mediaURLs
    }
}

/// How to reach a gateway account. `password` is the decrypted secret: never logged.
package struct GatewayCredentials: Sendable {
    package var provider: GatewayProvider
    package var baseURL: String
    package var username: String
    package var password: String

    /// The base URL without a trailing slash, ready for a path to be appended.
    var root: String { baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL }

    package init(provider: GatewayProvider, baseURL: String, username: String, password: String) {
        self.provider = provider
        self.baseURL = baseURL
        self.username = username
        self.password = password
    }
}

/// What submitting a message came to, as far as the sender can tell.
package enum SubmitResult: Sendable, Equatable {
    /// The gateway took the message.
    case accepted
    /// The gateway answered no (bad credentials, bad number, …): sending again will not help.
    case refused(String)
    /// The request never reached the gateway, or it answered 5xx: safe to try again later.
    case unreachable(String)
    /// The gateway asked us to slow down (503 from Kannel, 429 from Twilio): it did not take
    /// the message; try again once it has had a pause.
    case throttled(String)
    /// No answer in time: the gateway may or may not have taken it.
    case unknown(String)
}

extension SubmitResult {
    /// Every `outcome`.
    package static let outcomes = ["accepted", "refused", "unreachable", "throttled", "unknown"]

    /// The result's name without its reason (a metrics label).
    package var outcome: String {
        switch self {
        case .accepted: "accepted"
        case .refused: "refused"
        case .unreachable: "unreachable"
        case .throttled: "throttled"
        case .unknown: "unknown"
        }
    }
}

/// Submits messages in each provider's documented wire format, through libcurl. Blocking: run
/// it on a thread of its own.
package enum GatewayClient {
    package static func submit(
        _ message: OutboundMessage, credentials: GatewayCredentials, statusCallbackURL: String,
        http: BlockingHTTPClient
    ) -> SubmitResult {
        let request: (method: String, url: String, headers: [(String, String)], body: [UInt8]?)
        switch credentials.provider {
        case .kannel:
            request = ("GET", kannelURL(message, credentials, dlrURL: statusCallbackURL), [], nil)
        case .twilio:
            request = twilioRequest(message, credentials, statusCallbackURL: statusCallbackURL)
        }
        do {
            let response = try http.send(method: request.method, url: request.url, headers: request.headers, body: request.body)
            switch response.status {
            case 200..<300: return .accepted
            case 429, 503: return .throttled("gateway answered \(response.status)")
            case 500...: return .unreachable("gateway answered \(response.status)")
            default: return .refused("gateway refused (\(response.status)): \(response.text.prefix(200))")
            }
        } catch {
            switch error.kind {
            case .connect: return .unreachable(error.message)
            case .timeout, .transport: return .unknown(error.message)
            case .invalidRequest: return .refused(error.message)
            }
        }
    }

    /// The delivery reports asked of Kannel: the final ones only, delivered (1), failed (2) and
    /// rejected by the network (16). Acceptance is already known from the submission's answer,
    /// so the SMSC's acknowledgement (8) and "buffered" (4) would each cost a callback (an HTTP
    /// request from smsbox and a transaction here) that changes nothing.
    package static let kannelReportMask = 1 | 2 | 16

    /// Kannel's HTTP sendsms. The coding is chosen here: without `coding=2` Kannel silently
    /// turns characters outside GSM-7 into `?`. The delivery-report URL carries our message id.
    static func kannelURL(_ message: OutboundMessage, _ credentials: GatewayCredentials, dlrURL: String) -> String {
        var parameters = [
            ("username", credentials.username), ("password", credentials.password), ("from", message.from),
            ("to", message.to), ("text", message.text), ("dlr-mask", String(kannelReportMask)), ("dlr-url", dlrURL),
        ]
        if Segmenter.count(message.text).encoding == .ucs2 {
            parameters += [("coding", "2"), ("charset", "UTF-8")]
        }
        return credentials.root + "/cgi-bin/sendsms?" + formEncode(parameters)
    }

    /// Twilio's REST Messages API: a form POST with HTTP basic auth (account SID and token).
    static func twilioRequest(_ message: OutboundMessage, _ credentials: GatewayCredentials, statusCallbackURL: String)
        -> (method: String, url: String, headers: [(String, String)], body: [UInt8]?)
    {
        var parameters = [("To", message.to), ("From", message.from), ("Body", message.text), ("StatusCallback", statusCallbackURL)]
        parameters += message.mediaURLs.map { ("MediaUrl", $0) }
        let account = percentEncode(credentials.username)
        let authorization = Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
        return (
            "POST", "\(credentials.root)/2010-04-01/Accounts/\(account)/Messages.json",
            [("Authorization", "Basic \(authorization)"), ("Content-Type", "application/x-www-form-urlencoded")],
            Array(formEncode(parameters).utf8)
        )
    }

    package static func formEncode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay; every other byte is %XX.
    package static func percentEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(UnicodeScalar(byte))
            default:
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }
}
