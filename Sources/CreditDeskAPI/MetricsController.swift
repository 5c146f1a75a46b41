import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// The process's metrics registry. swift-metrics can be bootstrapped once per process, so
/// the first router built does it and every later one (the tests build many) shares it.
enum Observability {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Finer than the library's default (5 ms … 10 s): most requests answer within 5 ms.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        // Hummingbird's request metrics, under Prometheus's conventions (unit and _total suffixes).
        factory.nameAndLabelSanitizer = { name, labels in (renamed[name] ?? name, labels) }
        MetricsSystem.bootstrap(factory)
        Telemetry.declareAll()
        return registry
    }()

    static let renamed = [
        "hb.requests": "http_requests_total", "hb.request.errors": "http_request_errors_total",
        "http.server.request.duration": "http_server_request_duration_seconds",
    ]

    static let jobsDue = "creditdesk_jobs_due"
    static let jobsLater = "creditdesk_jobs_scheduled"
    static let oldestDueJob = "creditdesk_jobs_oldest_due_age_seconds"
    static let databaseUp = "creditdesk_database_up"
    static let residentMemory = "process_resident_memory_bytes"
}

/// `GET /metrics`, in Prometheus's text format, on the main port for a scraper holding
/// `CREDITDESK_METRICS_TOKEN` (as a bearer token); without that setting the route answers 404,
/// so nothing about the process is visible to anyone. The job queue's gauges are read from
/// the database at each scrape (one short query), everything else is counted as it happens.
struct MetricsController {
    let pool: DatabasePool
    let token: String?

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/metrics") { request, context in
            // No credentials: 401, as on every route that needs them; credentials but no
            // metrics configured: the route does not exist.
            let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? $0.dropFirst(7) : nil }
            guard let presented else {
                throw APIError(.unauthorized, code: "unauthorized", message: "the metrics token is missing")
            }
            guard let token else { throw APIError(.notFound, code: "not_found", message: "no such route") }
            guard Digest.constantTimeEqual(presented.utf8, token.utf8) else {
                throw APIError(.unauthorized, code: "unauthorized", message: "the metrics token is missing or wrong")
            }
            await refreshQueueGauges(context)
            Self.recordResidentMemory()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Observability.registry.emitToBuffer())))
        }
    }

    /// The queue's depth by kind; a database that does not answer shows as `creditdesk_database_up 0`
    /// (and the scrape still succeeds, with the last depths seen).
    func refreshQueueGauges(_ context: AppRequestContext) async {
        do {
            let depths = try await pool.withConnection { try JobStore.depth($0) }
            var seen = Set<String>()
            for depth in depths {
                seen.insert(depth.kind)
                Self.recordDepth(kind: depth.kind, due: depth.due, later: depth.later, oldest: depth.oldestDueSeconds)
            }
            for kind in JobKind.allCases.map(\.rawValue) where !seen.contains(kind) {
                Self.recordDepth(kind: kind, due: 0, later: 0, oldest: 0)
            }
            Gauge(label: Observability.databaseUp).record(1)
        } catch {
            context.logger.warning("metrics: the job queue could not be read", metadata: ["error": "\(error)"])
            Gauge(label: Observability.databaseUp).record(0)
        }
    }

    /// The process's resident set, as Prometheus's own clients name it (Linux: /proc/self/statm).
    static func recordResidentMemory() {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return }
        Gauge(label: Observability.residentMemory).record(pages * Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    static func recordDepth(kind: String, due: Int, later: Int, oldest: Double) {
        Gauge(label: Observability.jobsDue, dimensions: [("kind", kind)]).record(due)
        Gauge(label: Observability.jobsLater, dimensions: [("kind", kind)]).record(later)
        Gauge(label: Observability.oldestDueJob, dimensions: [("kind", kind)]).record(oldest)
    }
}
