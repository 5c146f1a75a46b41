import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import Foundation

/// The services' operations (`Operations.createAccount` …) keep their name in this module;
/// the contract's generated operation types are `Endpoints.CreateAccount` ….
typealias Operations = CreditDeskServices.Operations
typealias Endpoints = CreditDeskContract.Operations

/// Every operation of the contract (the generated `APIProtocol`), each a thin step from the
/// typed input to one service call and back to the typed output. Authorization, rules and
/// idempotency live in the services; errors are mapped in `RequestLoggingMiddleware`.
struct APIHandlers: APIProtocol {
    let access: Access
    let messaging: MessagingSettings
}

extension RawRepresentable where RawValue == String {
    /// The same case in the other enum of a pair that the contract and the core both spell
    /// out (account kinds, units, statuses …). A test checks each pair has the same cases.
    func converted<T: RawRepresentable>() throws -> T where T.RawValue == String {
        guard let value = T(rawValue: rawValue) else {
            throw APIError.badRequest(code: "invalid_value", "\(rawValue) is not a supported value")
        }
        return value
    }
}

extension Optional where Wrapped: RawRepresentable, Wrapped.RawValue == String {
    func converted<T: RawRepresentable>() throws -> T? where T.RawValue == String {
        try map { try $0.converted() }
    }
}
