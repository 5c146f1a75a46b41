import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation

/// A platform, a reseller and a client with one Kannel connection (to a port nobody answers),
/// made in the caller's transaction; its password sealed with `box`.
func clientWithGateway(
    _ connection: PostgresConnection, limits: GatewayLimits = .default, box: SecretBox
) throws -> GatewayConnectionRecord {
    let (platform, user, _) = try Operations.bootstrap(connection, operatorName: "Op", email: nil)
    let principal = Principal(
        userID: user.id, accountID: platform.id, tenantID: platform.tenantID, role: .operator, accountKind: .platform)
    let context = OperationContext(actorUserID: user.id, requestID: "test")
    let reseller = try Operations.createAccount(connection, principal, context, parentID: platform.id, kind: .reseller, name: "R")
    let client = try Operations.createAccount(connection, principal, context, parentID: reseller.id, kind: .client, name: "C")
    let (gateway, _) = try MessagingOperations.createGateway(
        connection, principal, context, accountID: client.id,
        input: .init(
            provider: .kannel, name: "K", baseURL: "http://127.0.0.1:1", username: "u", password: "s3cret",
            sender: "+6421000000", homePrefix: "64", userID: nil, limits: limits),
        box: box)
    return gateway
}
