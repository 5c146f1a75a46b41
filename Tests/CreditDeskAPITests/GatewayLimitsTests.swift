import CreditDeskContract
import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import CreditDeskTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CreditDeskAPI

/// A Kannel-speaking gateway on loopback that counts what it sees: submissions on the wire at
/// once (each takes 30 ms), accepted ones, and "throttled" answers for the first few.
final class CountingGateway: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight = 0
    private(set) var maximumInFlight = 0
    private(set) var accepted: [String] = []
    private(set) var throttled = 0
    let throttleFirst: Int

    init(throttleFirst: Int) { self.throttleFirst = throttleFirst }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.get("/cgi-bin/sendsms") { request, _ -> Response in
            let throttle = self.enter()
            try await Task.sleep(for: .milliseconds(30))
            self.leave(throttle ? nil : request.uri.queryParameters.get("to"))
            return throttle
                ? Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "Queue full")))
                : Response(status: .accepted, body: .init(byteBuffer: ByteBuffer(string: "0: Accepted for delivery")))
        }
        return router
    }

    var snapshot: (maximumInFlight: Int, accepted: [String], throttled: Int) {
        lock.withLock { (maximumInFlight, accepted, throttled) }
    }

    private func enter() -> Bool {
        lock.withLock {
            inFlight += 1
            maximumInFlight = max(maximumInFlight, inFlight)
            let throttle = throttled + accepted.count < throttleFirst
            if throttle { throttled += 1 }
            return throttle
        }
    }

    private func leave(_ recipient: String?) {
        lock.withLock {
            inFlight -= 1
            if let recipient { accepted.append(recipient) }
        }
    }
}

extension MessagingTests {
    @Test("a connection's concurrency limit holds across two dispatchers; a throttling gateway delays messages, never fails them")
    func concurrencyAndThrottling() async throws {
        try await withMessaging { api, fixture, pool, _ in
            let counting = CountingGateway(throttleFirst: 6)
            try await Application(router: counting.router).test(.live) { gatewayClient in
                let gateway = try await api.typed(fixture.keys[.clientAdmin]).createGateway(
                    path: .init(id: fixture.client.id.objectID), headers: .init(idempotencyKey: freshKey()),
                    body: .json(.init(
                        provider: .kannel, name: "Counting", baseUrl: "http://127.0.0.1:\(gatewayClient.port ?? 0)",
                        username: "u", password: "p", sender: Self.sender, homePrefix: "64", maxConcurrency: 2))
                ).created.body.json
                #expect(gateway.maxConcurrency == 2 && gateway.maxMessagesPerSecond == nil)
                let user = fixture.keys[.clientUser]!
                let recipients = (0..<24).map { "+6421\(String(format: "%07d", $0))" }
                for recipient in recipients {
                    _ = try await send(api, fixture, key: user, to: recipient, "limited").accepted
                }
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, try await messages(api, fixture).filter({ $0.status == .queued }).count > 0 {
                    try await Task.sleep(for: .milliseconds(200))
                }
                let rows = try await messages(api, fixture)
                #expect(rows.count == 24)
                #expect(rows.allSatisfy { $0.status == .sent }, "\(rows.map(\.status))")
                let seen = counting.snapshot
                #expect(seen.maximumInFlight <= 2, "two dispatchers, one limit of 2")
                #expect(seen.throttled == 6)
                #expect(seen.accepted.sorted() == recipients, "each message taken once")
                #expect(try await api.balance(fixture.client.id, .sms, key: user) == (76, 0, 76))
                let attempts = try await pool.withConnection {
                    try $0.execute("SELECT max(attempts) AS most FROM jobs").single().decode(Int64.self, "most")
                }
                #expect(attempts == 1, "waiting out a throttle uses no attempt")
                try await verifyClean(pool)
            }
        }
    }

    @Test("limits: set by the client's admin, validated, 404 to another tenant, 403 to a read-only user")
    func settingLimits() async throws {
        try await withMessaging { api, fixture, _, _ in
            let gateway = try await connect(
                api, fixture, .kannel, name: "Office", baseURL: "http://127.0.0.1:1", username: "u", password: "p")
            #expect(gateway.maxConcurrency == 16 && gateway.maxMessagesPerSecond == nil)
            let path = "/v1/gateways/\(gateway.id)/limits"
            let set = try await api.call(
                .put, path, key: fixture.keys[.clientAdmin], body: ["max_concurrency": 4, "max_messages_per_second": 200])
            #expect(set.status == .ok)
            let limited = try set.decode(Components.Schemas.Gateway.self)
            #expect(limited.maxConcurrency == 4 && limited.maxMessagesPerSecond == 200)
            let cleared = try await api.call(
                .put, path, key: fixture.keys[.resellerAdmin], body: ["max_concurrency": 4, "max_messages_per_second": NSNull()])
            #expect(cleared.status == .ok)
            #expect(try cleared.decode(Components.Schemas.Gateway.self).maxMessagesPerSecond == nil)
            for body: [String: Any] in [["max_concurrency": 0], ["max_concurrency": 257], ["max_concurrency": 4, "max_messages_per_second": 0]] {
                let refused = try await api.call(.put, path, key: fixture.keys[.clientAdmin], body: body)
                #expect(refused.status == .badRequest, "\(body)")
                #expect(refused.errorField == (body.count == 2 ? "max_messages_per_second" : "max_concurrency"))
            }
            let other = try await api.call(.put, path, key: fixture.keys[.otherResellerAdmin], body: ["max_concurrency": 1])
            #expect(other.status == .notFound)
            let readonly = try await api.call(.put, path, key: fixture.keys[.clientReadonly], body: ["max_concurrency": 1])
            #expect(readonly.status == .forbidden)
            let listed = try await api.typed(fixture.keys[.clientAdmin]).listGateways(path: .init(id: fixture.client.id.objectID))
                .ok.body.json.items
            #expect(listed.map(\.maxConcurrency) == [4] && listed.first?.maxMessagesPerSecond == nil)
        }
    }
}
