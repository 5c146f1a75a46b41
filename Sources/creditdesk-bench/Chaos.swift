import ArgumentParser
import CreditDeskGateway
import Foundation

/// Mixed credit operations from concurrent clients that retry every unanswered request with the
/// same idempotency key until it is answered, while `make chaos` kills and restarts the daemon
/// and PostgreSQL. At the end the balances must equal the starting ones plus exactly the effect
/// of every acknowledged operation: nothing lost, nothing applied twice.
struct ChaosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos", abstract: "Retrying clients against a daemon that is being killed; checks balances; prints JSON.")

    @OptionGroup var target: TargetOptions

    @Option(help: "The reseller whose admin key is used; credits are drawn from its pool.")
    var reseller: String

    @Option(help: "Comma-separated client ids (direct children of the reseller).")
    var clients: String

    @Option(help: "Concurrent workers.")
    var workers = 8

    @Option(help: "Seconds during which new operations start; operations under way are then finished.")
    var seconds = 60.0

    @Option(help: "Give up on an operation still unanswered after this many seconds (then the run fails).")
    var patienceSeconds = 180.0

    @Option(help: "Another daemon on the same database; workers take the daemons in turn (repeatable).")
    var alsoBaseURL: [String] = []

    @Option(help: "Prefix of the idempotency keys.")
    var keyPrefix = "chaos-\(UUID().uuidString.prefix(8).lowercased())"

    func run() throws {
        let apiKey = try target.resolvedKey()
        let clientIDs = clients.split(separator: ",").map(String.init)
        guard !clientIDs.isEmpty else { throw ValidationError("--clients is empty") }
        let everyone = [reseller] + clientIDs
        let setup = ChaosClient(
            baseURL: target.baseURL, apiKey: apiKey, patienceNanoseconds: UInt64(patienceSeconds * 1e9))
        let before = try setup.balances(everyone)

        let reseller = reseller
        let keyPrefix = keyPrefix
        let tallies = Collector<ChaosTally>()
        let deadline = nowNanoseconds() + UInt64(seconds * 1e9)
        let baseURLs = [target.baseURL] + alsoBaseURL
        let patience = UInt64(patienceSeconds * 1e9)
        runThreads(workers) { index in
            let client = ChaosClient(baseURL: baseURLs[index % baseURLs.count], apiKey: apiKey, patienceNanoseconds: patience)
            var worker = ChaosWorker(
                client: client, reseller: reseller, clients: clientIDs, keyPrefix: "\(keyPrefix)-\(index)",
                random: SplitMix(seed: UInt64(index) &+ 0x9E37_79B9))
            while nowNanoseconds() < deadline, worker.tally.unresolved == 0 {
                worker.step()
            }
            worker.tally.attempts = client.attempts
            worker.tally.retried = client.retries
            tallies.add(worker.tally)
        }

        var total = ChaosTally()
        for tally in tallies.all { total.merge(tally) }
        let after = try setup.balances(everyone)
        var mismatches: [String] = []
        for account in everyone {
            let expectedPosted = before[account]!.posted + total.postedDelta[account, default: 0]
            let (posted, reserved) = after[account]!
            if posted != expectedPosted || reserved != before[account]!.reserved {
                mismatches.append(
                    "\(account): posted \(posted) (expected \(expectedPosted)), reserved \(reserved) (expected \(before[account]!.reserved))"
                )
            }
        }
        printJSON([
            "key_prefix": keyPrefix,
            "operations_sent": total.sent,
            "acknowledged": total.acknowledged,
            "applied_expected": total.applied,
            "rejected_insufficient": total.rejected,
            "unexpected": total.unexpected,
            "unresolved": total.unresolved,
            "http_attempts": total.attempts,
            "retried": total.retried,
            "balance_mismatches": mismatches,
        ])
        if !mismatches.isEmpty || total.unexpected > 0 || total.unresolved > 0 { throw ExitCode(1) }
    }
}

struct ChaosTally {
    var sent = 0
    var acknowledged = 0
    /// Acknowledged operations that moved credits (a rejected one moves none).
    var applied = 0
    var rejected = 0
    var unexpected = 0
    var unresolved = 0
    var attempts = 0
    var retried = 0
    var postedDelta: [String: Int64] = [:]

    mutating func merge(_ other: ChaosTally) {
        sent += other.sent
        acknowledged += other.acknowledged
        applied += other.applied
        rejected += other.rejected
        unexpected += other.unexpected
        unresolved += other.unresolved
        attempts += other.attempts
        retried += other.retried
        postedDelta.merge(other.postedDelta, uniquingKeysWith: +)
    }
}

/// What the daemon finally answered to one operation.
enum ChaosOutcome {
    case acknowledged([String: Any])
    case insufficient
    case unexpected(String)
    case unresolved(String)
}

/// Sends a request until it is answered: transport errors, 5xx (including 503
/// `outcome_unknown`) and 429 are retried with the same key and body, with capped backoff.
final class ChaosClient {
    let baseURL: String
    let apiKey: String
    let patienceNanoseconds: UInt64
    let http = BlockingHTTPClient(timeoutMilliseconds: 15_000, connectTimeoutMilliseconds: 1_000)
    private(set) var attempts = 0
    private(set) var retries = 0

    init(baseURL: String, apiKey: String, patienceNanoseconds: UInt64) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.patienceNanoseconds = patienceNanoseconds
    }

    func send(_ request: APIRequest) -> ChaosOutcome {
        let giveUp = nowNanoseconds() + patienceNanoseconds
        var backoffMilliseconds = 20
        var lastProblem = ""
        while true {
            attempts += 1
            do {
                let response = try request.send(http, baseURL: baseURL, apiKey: apiKey)
                let object = parseObject(response) ?? [:]
                switch response.status {
                case 200..<300:
                    return .acknowledged(object)
                case 409 where (object["error"] as? [String: Any])?["code"] as? String == "insufficient_credits":
                    return .insufficient
                case 429, 500...:
                    lastProblem = "\(response.status) \(response.text.prefix(200))"
                default:
                    return .unexpected("\(request.method) \(request.path): \(response.status) \(response.text.prefix(300))")
                }
            } catch {
                lastProblem = "\(error)"
            }
            guard nowNanoseconds() < giveUp else { return .unresolved("\(request.path): \(lastProblem)") }
            retries += 1
            usleep(UInt32(backoffMilliseconds * 1000))
            backoffMilliseconds = min(backoffMilliseconds * 2, 500)
        }
    }

    /// Posted and reserved SMS credits of each account, waiting for the daemon if it is down.
    func balances(_ accounts: [String]) throws -> [String: (posted: Int64, reserved: Int64)] {
        var result: [String: (posted: Int64, reserved: Int64)] = [:]
        for account in accounts {
            let request = APIRequest(method: "GET", path: "/v1/accounts/\(account)/balances", body: nil, idempotencyKey: nil)
            guard case .acknowledged(let object) = send(request),
                let balances = object["balances"] as? [[String: Any]],
                let sms = balances.first(where: { $0["unit"] as? String == "sms" }),
                let posted = (sms["posted"] as? NSNumber)?.int64Value, let reserved = (sms["reserved"] as? NSNumber)?.int64Value
            else { throw ValidationError("could not read the balances of \(account)") }
            result[account] = (posted, reserved)
        }
        return result
    }
}

/// One worker's stream of operations and its model of their effect on posted balances.
struct ChaosWorker {
    let client: ChaosClient
    let reseller: String
    let clients: [String]
    let keyPrefix: String
    var random: SplitMix
    var tally = ChaosTally()
    var sequence = 0

    mutating func step() {
        let account = clients[Int(random.next() % UInt64(clients.count))]
        let amount = Int64(1 + random.next() % 20)
        switch random.next() % 6 {
        case 0:
            if mutate("/v1/accounts/\(account)/credits/adjust", ["unit": "sms", "amount": amount, "reason": "chaos add"]) != nil {
                move(amount, from: reseller, to: account)
            }
        case 1:
            if mutate("/v1/accounts/\(account)/credits/adjust", ["unit": "sms", "amount": -amount, "reason": "chaos remove"]) != nil {
                move(amount, from: account, to: reseller)
            }
        case 2:
            if mutate("/v1/accounts/\(reseller)/credits/transfer", ["unit": "sms", "amount": amount, "to_account_id": account]) != nil {
                move(amount, from: reseller, to: account)
            }
        case 3:
            if mutate("/v1/accounts/\(account)/charges", ["unit": "sms", "amount": amount, "reason": "chaos charge"]) != nil {
                tally.postedDelta[account, default: 0] -= amount
            }
        default:
            // Reserve, then post part of it or void it: two operations, the second needs the first's id.
            guard let reservation = mutate("/v1/accounts/\(account)/reservations", ["unit": "sms", "amount": amount, "reference": "chaos"]),
                let id = reservation["id"] as? String
            else { return }
            if random.next() % 2 == 0 {
                let posted = Int64(1 + random.next() % UInt64(amount))
                if mutate("/v1/reservations/\(id)/post", ["amount": posted]) != nil {
                    tally.postedDelta[account, default: 0] -= posted
                }
            } else {
                _ = mutate("/v1/reservations/\(id)/void", [:])
            }
        }
    }

    private mutating func move(_ amount: Int64, from source: String, to destination: String) {
        tally.postedDelta[source, default: 0] -= amount
        tally.postedDelta[destination, default: 0] += amount
    }

    /// Sends one mutation to its end; the response object when it was applied.
    private mutating func mutate(_ path: String, _ body: [String: Any]) -> [String: Any]? {
        sequence += 1
        tally.sent += 1
        let request = APIRequest(
            method: "POST", path: path, body: APIRequest.json(body), idempotencyKey: "\(keyPrefix)-\(sequence)")
        switch client.send(request) {
        case .acknowledged(let object):
            tally.acknowledged += 1
            tally.applied += 1
            return object
        case .insufficient:
            tally.acknowledged += 1
            tally.rejected += 1
        case .unexpected(let problem):
            tally.unexpected += 1
            FileHandle.standardError.write(Data("unexpected: \(problem)\n".utf8))
        case .unresolved(let problem):
            tally.unresolved += 1
            FileHandle.standardError.write(Data("unresolved: \(problem)\n".utf8))
        }
        return nil
    }
}

/// A small deterministic generator, so a failing run can be replayed.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
