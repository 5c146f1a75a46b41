import CreditDeskAPI
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// A graceful shutdown while a message is with the gateway: the dispatcher claims nothing new
/// and records what is in hand, so nothing is left leased to be sent twice.
@Suite("Dispatcher shutdown")
struct DispatcherShutdownTests {
    @Test("a send in flight at shutdown is recorded, even when the pool is busy at that moment")
    func drainsInFlight() async throws {
        // One connection: the test holds it while the gateway answers, so recording the answer
        // must wait for the pool after shutdown has begun (a cancelled wait would fail there).
        try await withTestDatabase(poolSize: 1) { pool in
            let fixture = try await Fixture.make(pool)
            let migrator = try await TestCluster.shared.ready().migrator
            let settings = MessagingSettings(
                secretBox: try SecretBox(encodedKey: SecretBox.generateKey()), publicBaseURL: "http://127.0.0.1:1")
            let api = Application(
                router: try buildRouter(dependencies: AppDependencies(pool: pool, migrator: migrator, messaging: settings)))
            let submitted = AsyncStream.makeStream(of: Void.self)
            let gateway = Router()
            gateway.get("/cgi-bin/sendsms") { _, _ -> HTTPResponse.Status in
                submitted.continuation.yield()
                try await Task.sleep(for: .seconds(1))
                return .accepted
            }
            try await Application(router: gateway).test(.live) { gatewayClient in
                try await api.test(.router) { client in
                    let api = API(client: client)
                    let messageID = try await Self.queueMessage(api, fixture, gatewayPort: gatewayClient.port ?? 0)
                    let dispatcher = MessageDispatcher(
                        pool: pool, settings: settings, logger: Logger(label: "test.dispatcher"),
                        pollInterval: .milliseconds(50))
                    let group = ServiceGroup(services: [dispatcher], logger: Logger(label: "test.group"))
                    async let running: Void = group.run()
                    var events = submitted.stream.makeAsyncIterator()
                    _ = await events.next()
                    async let held: Void = pool.withConnection { _ in usleep(2_000_000) }
                    await group.triggerGracefulShutdown()
                    try await running
                    try await held
                    let message = try await pool.withConnection { try MessageStore.message($0, id: messageID) }
                    #expect(message?.status == .sent, "\(String(describing: message?.status))")
                    try await verifyClean(pool)
                }
            }
        }
    }

    /// Funds the client as the messaging tests do, links a Kannel-style gateway at
    /// `gatewayPort`, sends one SMS.
    static func queueMessage(_ api: API, _ fixture: Fixture, gatewayPort: Int) async throws -> UUID {
        try await MessagingTests().fund(api, fixture, features: [])
        let gateway = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/gateways", key: fixture.keys[.clientAdmin],
            body: [
                "provider": "kannel", "name": "Slow gateway", "base_url": "http://127.0.0.1:\(gatewayPort)",
                "username": "u", "password": "p", "sender": "+6421000000", "home_prefix": "64",
            ])
        #expect(gateway.status == .created)
        let sent = try await api.call(
            .post, "/v1/accounts/\(fixture.client.id.lower)/messages", key: fixture.keys[.clientAdmin],
            body: ["to": "+64215550100", "text": "Your appointment is at 9:30"])
        #expect(sent.status == .accepted, "\(sent.text)")
        return try #require(UUID(uuidString: sent.id))
    }
}
