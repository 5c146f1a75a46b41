import CreditDeskConsole
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Per-request state shared by middleware and routes.
package struct AppRequestContext: RequestContext, ConsoleRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// From a well-formed `X-Request-Id` header, else generated; echoed in the response.
    package var requestID: String
    /// Set by the auth middleware for every non-public route.
    package var auth: AuthenticatedKey?
    /// The request body, read whole by the logging middleware within its route's limit.
    package var body: ByteBuffer
    /// The peer, as the channel knows it; formatted only when asked.
    let peer: SocketAddress?
    /// The client's address when a trusted proxy forwarded the request (set by the
    /// authentication middleware, from `X-Forwarded-For`); nil: the peer is the client.
    package var forwardedClient: String?
    /// The client's IP address: sign-in throttling, key address ranges and the audit log use
    /// it ("unknown" in in-process tests).
    package var remoteAddress: String { forwardedClient ?? peer?.ipAddress ?? "unknown" }

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.auth = nil
        self.body = ByteBuffer()
        self.peer = source.channel.remoteAddress
        self.forwardedClient = nil
    }

    /// Request bodies are small JSON documents; anything larger is refused with 413.
    package var maxUploadSize: Int { 256 * 1024 }
}
