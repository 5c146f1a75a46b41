import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Form submissions: CSRF-checked, then run once per form key through the one idempotent
/// runner every front door uses, then a redirect with what happened as a flash.
extension ConsoleController {
    /// A form's fields, the object the path names (or the user's own account), and the words
    /// to answer in.
    struct Submission: Sendable {
        let form: [String: [String]]
        /// Uploaded files by field name (a multipart form).
        let files: [String: [UInt8]]
        let id: UUID
        /// The signed-in user's own account.
        let ownAccountID: UUID
        let catalogue: Catalogue
        /// Every language's words, for an answer in a language just chosen.
        let catalogues: [String: Catalogue]

        func field(_ name: String) -> String? { form[name]?.first }
        /// A field, empty as nil.
        func given(_ name: String) -> String? { field(name).flatMap { $0.isEmpty ? nil : $0 } }
        func text(_ key: String, _ values: [String: String] = [:]) -> String { catalogue.text(key, values) }
        /// A textarea of URLs, one a line; blank lines ignored.
        func lines(_ name: String) -> [String] {
            (field(name) ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
    }

    /// What an action came to: the flash, where to go next (else `back`), and a secret to show
    /// this once (never stored for replays).
    struct Done: Codable, Sendable {
        var flash: String
        var location: String? = nil
        var secretLabel: String? = nil
        var secret: String? = nil
        /// Lines to list under the flash (e.g. an import's rejected rows): shown on a page of
        /// their own rather than through a redirect.
        var lines: [String]? = nil
    }

    typealias Work = @Sendable (PostgresConnection, Principal, OperationContext, Submission) throws -> Done
    typealias Refusal = @Sendable (ConsoleSession, Request, Submission, DomainError) async throws -> Response

    func action(
        _ request: Request, _ context: Context, back: @escaping @Sendable (Submission) -> String,
        refused: Refusal? = nil, _ work: @escaping Work
    ) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect(to: "/console/sign-in") }
        let (form, files) = Self.fields(request, context)
        guard Self.csrfMatches(form, session) else { return try csrfRefused(session, request) }
        let id: UUID
        if let raw = context.parameters.get("id") {
            guard let parsed = UUID(uuidString: raw) else { return try pages.notFound(session, request) }
            id = parsed
        } else {
            id = session.principal.accountID
        }
        let submission = Submission(
            form: form, files: files, id: id, ownAccountID: session.principal.accountID, catalogue: pages.catalogue(request, setting: session.language),
            catalogues: pages.catalogues)
        do {
            let done = try await run(request, context, session, submission, work)
            if done.secret != nil || done.lines != nil {
                var data: [String: Any] = ["text": done.flash, "next": done.location ?? back(submission)]
                if let secret = done.secret { data["secret"] = secret }
                if let lines = done.lines {
                    data["lines"] = lines
                    data["hasLines"] = !lines.isEmpty
                }
                return try pages.page("outcome", session, request, title: done.secretLabel ?? "outcome_title", data)
            }
            var response = Self.redirect(to: done.location ?? back(submission))
            response.setCookie(Flash(done.flash).cookie)
            return response
        } catch let error as DomainError where error.code == .notFound {
            return try pages.notFound(session, request)
        } catch let error as DomainError {
            if let refused { return try await refused(session, request, submission, error) }
            var response = Self.redirect(to: back(submission))
            response.setCookie(Flash(submission.catalogue.error(error), isError: true).cookie)
            return response
        }
    }

    /// Runs the work once per form key through the idempotent runner: a replay answers what
    /// the first submission did, marked as already applied.
    private func run(
        _ request: Request, _ context: Context, _ session: ConsoleSession, _ submission: Submission, _ work: @escaping Work
    ) async throws -> Done {
        if session.accountSuspended { throw DomainError(.accountSuspended, "your account is suspended; it can only read") }
        // The fingerprint: the path and every field but the CSRF token and the key itself.
        let fields = submission.form.filter { $0.key != "csrf" && $0.key != "form_key" }
            .map { "\($0.key)=\($0.value.joined(separator: ","))" }
            + submission.files.map { "\($0.key)=sha256:\(Digest.hex(Digest.sha256($0.value)))" }
        let principal = session.principal
        let outcome = try await IdempotentMutation.run(
            pool: pool, principal: principal,
            origin: Self.origin(session, context),
            key: try Validate.idempotencyKey(submission.field("form_key")),
            requestHash: Digest.sha256Hex("console \(request.uri.path)\n" + fields.sorted().joined(separator: "\n")),
            requestID: context.requestID, status: 303,
            render: { done in
                var stored = done
                stored.secret = nil
                return .init(body: try Self.encoded(done), replayBody: try Self.encoded(stored))
            }
        ) { connection, operation in try work(connection, principal, operation, submission) }
        var done = try JSONDecoder().decode(Done.self, from: Data(outcome.body.utf8))
        if outcome.replayed { done.flash += " " + submission.text("already_applied") }
        return done
    }

    /// The console, the session (none before sign-in) and the peer, as the audit log records them.
    static func origin(_ session: ConsoleSession?, _ context: Context) -> RequestOrigin {
        RequestOrigin(channel: .console, sessionID: session?.sessionID, sourceAddress: context.remoteAddress)
    }

    /// A form's fields: URL-encoded, or multipart with files.
    static func fields(_ request: Request, _ context: Context) -> ([String: [String]], [String: [UInt8]]) {
        guard let boundary = Multipart.boundary(request.headers[.contentType]) else {
            return (RequestParsing.form(context.body.readableBytesView), [:])
        }
        var form = [String: [String]](), files = [String: [UInt8]]()
        for part in Multipart.parts(Array(context.body.readableBytesView), boundary: boundary) {
            if part.fileName != nil {
                files[part.name] = part.body
            } else {
                form[part.name, default: []].append(String(decoding: part.body, as: UTF8.self))
            }
        }
        return (form, files)
    }

    static func encoded(_ done: Done) throws -> String {
        String(decoding: try JSONEncoder().encode(done), as: UTF8.self)
    }

    /// Add or Remove Credits: a positive amount, a unit and a reason; the button says which.
    static func adjustCredits(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let unit = try unit(submission)
        let amount = try amount(submission)
        let removing = submission.field("direction") == "remove"
        let outcome = try Operations.adjust(
            connection, principal, operation, accountID: submission.id, unit: unit,
            delta: removing ? -amount : amount, reason: submission.field("reason"))
        guard case .applied(let entry) = outcome else { return Self.held(outcome, submission) }
        return Done(
            flash: submission.text(
                removing ? "flash_removed" : "flash_added",
                ["amount": formatted(entry.amount), "unit": unit.rawValue.uppercased()]))
    }

    /// A movement above the approval threshold: said so, with what a second admin will see.
    static func held(_ outcome: CreditOutcome, _ submission: Submission) -> Done {
        guard case .held(let request) = outcome else { return Done(flash: "") }
        return Done(
            flash: submission.text(
                "flash_held",
                ["amount": formatted(request.amount), "unit": request.unit.rawValue.uppercased(),
                 "request": String(request.id.lower.prefix(8))]))
    }

    /// Permissions: the checked features on, the others off.
    static func setFeatures(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let checked = Set((submission.form["feature"] ?? []).compactMap(Feature.init(rawValue:)))
        let changes = Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0, checked.contains($0)) })
        let account = try Operations.setFeatures(connection, principal, operation, id: submission.id, changes: changes)
        let effective = account.effectiveFeatures.map { submission.text("feature_\($0.rawValue)") }.sorted()
        return Done(flash: submission.text("flash_permissions") + (effective.isEmpty ? "" : ": " + effective.joined(separator: ", ")))
    }

    static func unit(_ submission: Submission) throws -> CreditUnit {
        guard let unit = submission.field("unit").flatMap(CreditUnit.init(rawValue:)) else {
            throw DomainError.invalid("unit", "choose SMS or MMS")
        }
        return unit
    }

    /// A whole number of credits above zero from `field`.
    static func amount(_ submission: Submission, _ field: String = "amount") throws -> Int64 {
        guard let amount = submission.field(field).flatMap(RequestParsing.int64), amount > 0 else {
            throw DomainError.invalid(field, "must be a whole number above zero")
        }
        return amount
    }
}
