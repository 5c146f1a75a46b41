import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// Campaigns: a draft from a list and a template, its quote, a test to one's own number,
/// confirmation with the terms, cancelling, and each recipient's result.
extension ConsoleController {
    func campaigns(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard principal.accountKind == .client else { return try pages.notFound(session, request) }
        let after = request.uri.queryParameters["after"].flatMap { UUID(uuidString: String($0)) }
        let (campaigns, lists) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            (
                try CampaignOperations.campaigns(
                    connection, principal, accountID: principal.accountID, afterID: after, limit: Self.pageSize + 1),
                try ContactOperations.lists(connection, principal, accountID: principal.accountID, after: nil, limit: 200)
            )
        }
        let shown = campaigns.prefix(Self.pageSize)
        var data: [String: Any] = [
            "formKey": UUID().lower, "hasRows": !shown.isEmpty, "hasLists": !lists.isEmpty,
            "rows": shown.map { campaign in
                [
                    "id": campaign.id.lower, "name": campaign.name, "status": campaign.status.rawValue,
                    "recipients": formatted(Int64(campaign.recipients)), "credits": formatted(campaign.credits),
                    "unit": campaign.unit?.rawValue.uppercased() ?? "", "time": shortTime(campaign.createdAt),
                ] as [String: Any]
            },
            "lists": lists.map { ["id": $0.id.lower, "name": $0.name, "members": formatted(Int64($0.members))] },
        ]
        if campaigns.count > Self.pageSize, let last = shown.last {
            data["next"] = "/console/campaigns?after=\(last.id.lower)"
        }
        return try pages.page("campaigns", session, request, title: "nav_campaigns", data)
    }

    static func createCampaign(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        guard let listID = submission.given("list_id").flatMap(UUID.init(uuidString:)) else {
            throw DomainError.invalid("list_id", "choose a list")
        }
        let media = submission.lines("media")
        let campaign = try CampaignOperations.create(
            connection, principal, accountID: principal.accountID,
            input: .init(
                name: submission.field("name") ?? "", listID: listID, template: submission.field("template") ?? "",
                mediaURLs: media, sendAt: nil))
        return Done(
            flash: submission.text("flash_campaign_created", ["name": campaign.name]),
            location: "/console/campaigns/\(campaign.id.lower)")
    }

    func campaign(_ session: ConsoleSession, _ request: Request, id: UUID?) async throws -> Response {
        guard let id else { return try pages.notFound(session, request) }
        let principal = session.principal
        let after = request.uri.queryParameters["after"].flatMap { Int(String($0)) }
        let (campaign, counts, recipients, quote) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            connection in
            let (campaign, counts) = try CampaignOperations.campaign(connection, principal, campaignID: id)
            let recipients = try CampaignOperations.recipients(
                connection, principal, campaignID: id, afterPosition: after, limit: Self.pageSize + 1)
            // A draft's quote can be refused (no gateway, no rate): the page then says why.
            var quote: Result<CampaignOperations.Quote, DomainError>?
            if campaign.status == .draft {
                do { quote = .success(try CampaignOperations.quote(connection, principal, campaignID: id)) } catch let error
                    as DomainError
                { quote = .failure(error) }
            }
            return (campaign, counts, recipients, quote)
        }
        let catalogue = pages.catalogue(request, setting: session.language)
        let shown = recipients.prefix(Self.pageSize)
        var data: [String: Any] = [
            "id": campaign.id.lower, "name": campaign.name, "status": campaign.status.rawValue,
            "template": campaign.template, "draft": campaign.status == .draft,
            // Cancelling stops what has not gone: offered while something waits.
            "cancellable": campaign.status == .confirmed && (counts["queued"] ?? 0) + (counts["scheduled"] ?? 0) > 0,
            "formKey": UUID().lower, "hasRecipients": !shown.isEmpty,
            "counts": counts.sorted { $0.key < $1.key }.map { ["status": $0.key, "count": formatted(Int64($0.value))] },
            "recipients": shown.map { recipient in
                [
                    "position": recipient.position, "phone": recipient.phone ?? "—",
                    "status": recipient.status?.rawValue ?? "skipped",
                    "reason": recipient.skipReason ?? recipient.failureReason ?? "", "credits": formatted(recipient.credits),
                ] as [String: Any]
            },
        ]
        switch quote {
        case .success(let quote)?: data["quote"] = Self.quoteData(quote)
        case .failure(let error)?: data["quoteError"] = catalogue.error(error)
        case nil: break
        }
        if recipients.count > Self.pageSize, let last = shown.last {
            data["next"] = "/console/campaigns/\(campaign.id.lower)?after=\(last.position)"
        }
        return try pages.page("campaign", session, request, title: "nav_campaigns", data)
    }

    static func quoteData(_ quote: CampaignOperations.Quote) -> [String: Any] {
        [
            "members": formatted(Int64(quote.members)), "recipients": formatted(Int64(quote.recipients)),
            "segments": formatted(Int64(quote.segments)), "unit": quote.unit.rawValue.uppercased(),
            "needed": formatted(quote.creditsNeeded), "available": formatted(quote.creditsAvailable),
            "sufficient": quote.sufficient, "hasSkipped": !quote.skipped.isEmpty,
            "skipped": quote.skipped.sorted { $0.key < $1.key }.map { ["reason": $0.key, "count": formatted(Int64($0.value))] },
        ]
    }

    static func testCampaign(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let message = try CampaignOperations.test(
            connection, principal, operation, campaignID: submission.id, to: submission.field("to") ?? "")
        return Done(flash: submission.text("flash_test_sent", ["to": message.recipient]))
    }

    static func confirmCampaign(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let campaign = try CampaignOperations.confirm(
            connection, principal, operation, campaignID: submission.id, acceptTerms: submission.field("accept_terms") == "yes",
            sendAt: nil)
        return Done(
            flash: submission.text(
                "flash_campaign_confirmed",
                ["recipients": formatted(Int64(campaign.recipients)), "credits": formatted(campaign.credits)]))
    }

    static func cancelCampaign(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let (_, cancelled) = try CampaignOperations.cancel(connection, principal, operation, campaignID: submission.id)
        return Done(flash: submission.text("flash_campaign_cancelled", ["count": formatted(Int64(cancelled))]))
    }
}
