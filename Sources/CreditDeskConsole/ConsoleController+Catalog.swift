import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// What a reseller sells: packages (SMS and MMS credits for a price) and rates by destination
/// prefix.
extension ConsoleController {
    func packages(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard Navigation.sellsPackages(principal) else { return try pages.notFound(session, request) }
        let packages = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            try Operations.packages($0, principal, accountID: principal.accountID, active: nil)
        }
        return try pages.page(
            "packages", session, request, title: "nav_packages",
            [
                "rows": packages.map(Self.packageData), "hasRows": !packages.isEmpty,
                "formKey": UUID().lower,
            ])
    }

    static func packageData(_ package: PackageRecord) -> [String: Any] {
        [
            "id": package.id.lower, "name": package.name, "sms": formatted(package.smsCredits),
            "mms": formatted(package.mmsCredits), "price": money(package.priceMinor, package.currency),
            "active": package.active,
        ]
    }

    static func createPackage(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        func credits(_ field: String) throws -> Int64 {
            guard let value = RequestParsing.int64(submission.given(field) ?? "0"), value >= 0 else {
                throw DomainError.invalid(field, "must be a whole number of credits, 0 or more")
            }
            return value
        }
        let package = try Operations.createPackage(
            connection, principal, operation, accountID: principal.accountID, name: submission.field("name") ?? "",
            smsCredits: try credits("sms_credits"), mmsCredits: try credits("mms_credits"),
            priceMinor: try Money.minorUnits(submission.field("price") ?? "", field: "price"),
            currency: (submission.field("currency") ?? "").uppercased(), active: true)
        return Done(flash: submission.text("flash_package_created", ["name": package.name]))
    }

    /// Edits a package: its name, and whether it is on sale. Its credits and price are what
    /// earlier sales were made at, so a different offer is a new package.
    static func updatePackage(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let package = try Operations.updatePackage(
            connection, principal, operation, id: submission.id, name: submission.given("name"),
            active: submission.field("active").map { $0 == "yes" })
        return Done(flash: submission.text("flash_package_saved", ["name": package.name]))
    }

    func rates(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard Navigation.sellsPackages(principal) else { return try pages.notFound(session, request) }
        let rates = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            try MessagingOperations.rates($0, principal, resellerID: principal.accountID)
        }
        let rows = rates.entries.map { ["prefix": $0.prefix, "credits": formatted($0.creditsPerSegment)] }
        return try pages.page(
            "rates", session, request, title: "nav_rates",
            ["rows": rows, "hasRows": !rows.isEmpty, "formKey": UUID().lower])
    }

    static func setRate(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let prefix = (submission.field("prefix") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "+ "))
        let credits = try amount(submission, "credits_per_segment")
        try MessagingOperations.setRate(connection, principal, operation, resellerID: principal.accountID, prefix: prefix, creditsPerSegment: credits)
        return Done(flash: submission.text("flash_rate_set", ["prefix": prefix, "credits": formatted(credits)]))
    }
}
