import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Campaigns: create a draft, quote it, test it, confirm it (terms accepted), cancel it, and
/// read its per-recipient results.
extension APIHandlers {
    func listCampaigns(_ input: Endpoints.ListCampaigns.Input) async throws -> Endpoints.ListCampaigns.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let after = try Cursor.decodeKey(input.query.cursor, UUID.init(uuidString:))
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try CampaignOperations.campaigns(connection, principal, accountID: id, afterID: after, limit: limit + 1)
            return Components.Schemas.CampaignPage(
                rows: rows, limit: limit, item: { Components.Schemas.Campaign($0, counts: [:]) }, cursor: { [$0.id.lower] })
        })))
    }

    func createCampaign(_ input: Endpoints.CreateCampaign.Input) async throws -> Endpoints.CreateCampaign.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (campaign, replayed) = try await access.mutate(
            Components.Schemas.Campaign.self, input: body, status: .created
        ) { connection, principal, _ in
            Components.Schemas.Campaign(
                try CampaignOperations.create(
                    connection, principal, accountID: id,
                    input: .init(
                        name: body.name, listID: body.listId.uuid, template: body.template,
                        mediaURLs: body.mediaUrls ?? [], sendAt: body.sendAt)), counts: [:])
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(campaign)))
    }

    func getCampaign(_ input: Endpoints.GetCampaign.Input) async throws -> Endpoints.GetCampaign.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let (campaign, counts, progress) = try CampaignOperations.progress(connection, principal, campaignID: id)
            return Components.Schemas.Campaign(campaign, counts: counts, progress: campaign.status == .draft ? nil : progress)
        })))
    }

    func quoteCampaign(_ input: Endpoints.QuoteCampaign.Input) async throws -> Endpoints.QuoteCampaign.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.Quote(campaignID: id, try CampaignOperations.quote(connection, principal, campaignID: id))
        })))
    }

    func testCampaign(_ input: Endpoints.TestCampaign.Input) async throws -> Endpoints.TestCampaign.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let (message, replayed) = try await access.mutate(
            Components.Schemas.Message.self, input: body, status: .accepted
        ) { connection, principal, operation in
            Components.Schemas.Message(try CampaignOperations.test(connection, principal, operation, campaignID: id, to: body.to))
        }
        return .accepted(.init(headers: .init(idempotentReplayed: replayed), body: .json(message)))
    }

    func confirmCampaign(_ input: Endpoints.ConfirmCampaign.Input) async throws -> Endpoints.ConfirmCampaign.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        // Confirming 100,000 recipients holds tens of megabytes for a moment: give them back.
        defer { Memory.releaseFreedPages() }
        let (campaign, replayed) = try await access.mutate(Components.Schemas.Campaign.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Campaign(
                try CampaignOperations.confirm(
                    connection, principal, operation, campaignID: id, acceptTerms: body.acceptTerms, sendAt: body.sendAt),
                counts: [:])
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(campaign)))
    }

    func cancelCampaign(_ input: Endpoints.CancelCampaign.Input) async throws -> Endpoints.CancelCampaign.Output {
        let id = input.path.id.uuid
        let (campaign, replayed) = try await access.mutate(Components.Schemas.Campaign.self, input: Optional<String>.none) {
            connection, principal, operation in
            let (campaign, cancelled) = try CampaignOperations.cancel(connection, principal, operation, campaignID: id)
            return Components.Schemas.Campaign(campaign, counts: ["cancelled_now": cancelled])
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(campaign)))
    }

    func listCampaignRecipients(_ input: Endpoints.ListCampaignRecipients.Input) async throws
        -> Endpoints.ListCampaignRecipients.Output
    {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let after = try Cursor.decodeKey(input.query.cursor) { Int($0) }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try CampaignOperations.recipients(
                connection, principal, campaignID: id, afterPosition: after, limit: limit + 1)
            return Components.Schemas.RecipientPage(
                rows: rows, limit: limit, item: Components.Schemas.Recipient.init, cursor: { [String($0.position)] })
        })))
    }
}
