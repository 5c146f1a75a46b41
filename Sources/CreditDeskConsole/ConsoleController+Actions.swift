import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Form submissions: CSRF-checked, then run once per form key through the one idempotent
/// runner every front door uses, then a redirect with what happened as a flash.
extension ConsoleController {
    /// A form's fields, and the account id from the path.
    struct Submission: Sendable {
        let form: [String: [String]]
        let accountID: UUID

        func field(_ name: String) -> String? { form[name]?.first }
    }

    func action(
        _ request: Request, _ context: Context,
        _ work: @escaping @Sendable (PostgresConnection, Principal, OperationContext, Submission) throws -> String
    ) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect(to: "/console/sign-in") }
        let form = RequestParsing.form(context.body.readableBytesView)
        guard Self.csrfMatches(form, session) else { return try csrfRefused(session) }
        guard let accountID = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            return try pages.notFound(session)
        }
        let back = "/console/clients/\(accountID.uuidString.lowercased())"
        let submission = Submission(form: form, accountID: accountID)
        // The fingerprint: the path and every field but the CSRF token and the key itself.
        let fields = form.filter { $0.key != "csrf" && $0.key != "form_key" }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }
        let principal = session.principal
        var response = Self.redirect(to: back)
        do {
            if session.accountSuspended { throw DomainError(.accountSuspended, "your account is suspended; it can only read") }
            let outcome = try await IdempotentMutation.run(
                pool: pool, principal: principal, key: try Validate.idempotencyKey(form["form_key"]?.first),
                requestHash: Digest.sha256Hex("console \(request.uri.path)\n" + fields.joined(separator: "\n")),
                requestID: context.requestID, status: 303, render: { .init(body: $0) }
            ) { connection, operation in try work(connection, principal, operation, submission) }
            response.setCookie(Flash(outcome.replayed ? "\(outcome.body) (already applied)" : outcome.body).cookie)
        } catch let error as DomainError where error.code == .notFound {
            return try pages.notFound(session)
        } catch let error as DomainError {
            response.setCookie(Flash(error.message, isError: true).cookie)
        }
        return response
    }

    /// Add or Remove Credits: a positive amount, a unit and a reason; the button says which.
    static func adjustCredits(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> String {
        guard let unit = submission.field("unit").flatMap(CreditUnit.init(rawValue:)) else {
            throw DomainError.invalid("unit", "choose SMS or MMS")
        }
        guard let amount = submission.field("amount").flatMap(RequestParsing.int64), amount > 0 else {
            throw DomainError.invalid("amount", "Amount must be a whole number of credits above zero")
        }
        let removing = submission.field("direction") == "remove"
        let entry = try Operations.adjust(
            connection, principal, operation, accountID: submission.accountID, unit: unit,
            delta: removing ? -amount : amount, reason: submission.field("reason"))
        return "\(removing ? "Removed" : "Added") \(formatted(entry.amount)) \(unit.rawValue.uppercased()) credits"
    }

    /// Permissions: the checked features on, the others off.
    static func setFeatures(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> String {
        let checked = Set((submission.form["feature"] ?? []).compactMap(Feature.init(rawValue:)))
        let changes = Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0, checked.contains($0)) })
        let account = try Operations.setFeatures(connection, principal, id: submission.accountID, changes: changes)
        let effective = account.effectiveFeatures.map { Console.featureLabels[$0] ?? $0.rawValue }.sorted()
        return "Permissions saved" + (effective.isEmpty ? "" : ": " + effective.joined(separator: ", "))
    }
}
