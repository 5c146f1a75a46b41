import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Logging

/// Per-request state shared by middleware and routes.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// From a well-formed `X-Request-Id` header, else generated; echoed in the response.
    public var requestID: String
    /// Set by the auth middleware for every non-public route.
    public var auth: AuthenticatedKey?
    /// The request body, read whole by the logging middleware within its route's limit.
    public var body: ByteBuffer

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.auth = nil
        self.body = ByteBuffer()
    }

    /// Request bodies are small JSON documents; anything larger is refused with 413.
    public var maxUploadSize: Int { 256 * 1024 }
}
