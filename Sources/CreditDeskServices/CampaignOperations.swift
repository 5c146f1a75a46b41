import CreditDeskCore
import CreditDeskDB
import CreditDeskStore
import Foundation

/// Campaigns: a template sent to a contact list.
///
/// A draft can be quoted (recipients, segments, credits needed against available) and
/// test-sent to one number (an ordinary message: it costs its credits). Confirming needs the
/// terms accepted; it snapshots the list, renders each text, and reserves the whole campaign's
/// credits as one reservation batch (one balance update, one pending ledger entry). Every
/// member ends up as a recipient row: a message, or the reason none was sent (no mobile, no
/// consent, opted out, a duplicate number, no rate...). Each message then goes, posts, voids or
/// is refunded by the ordinary single-message rules; cancelling before dispatch voids what has
/// not gone.
package enum CampaignOperations {
    package struct CampaignInput: Sendable {
        package var name: String
        package var listID: UUID
        package var template: String
        package var mediaURLs: [String]
        package var sendAt: Date?

        package init(name: String, listID: UUID, template: String, mediaURLs: [String], sendAt: Date?) {
            self.name = name
            self.listID = listID
            self.template = template
            self.mediaURLs = mediaURLs
            self.sendAt = sendAt
        }
    }

    package struct Quote: Sendable {
        package let members: Int
        package let recipients: Int
        package let skipped: [String: Int]
        package let segments: Int
        package let unit: CreditUnit
        package let creditsNeeded: Int64
        package let creditsAvailable: Int64
        package var sufficient: Bool { creditsNeeded <= creditsAvailable }
    }

    struct Plan {
        var messages: [CampaignMessage] = []
        var skipped: [(position: Int, contactID: UUID, phone: String?, reason: String)] = []
        var unit: CreditUnit
        var credits: Int64 { messages.reduce(0) { $0 + $1.credits } }
    }

    static func requireCampaigns(_ account: AccountRecord) throws {
        guard account.effectiveFeatures.contains(.campaigns) else {
            throw DomainError(.featureDisabled, "campaigns need the campaigns feature", details: ["feature": .string("campaigns")])
        }
    }

    package static func create(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, input: CampaignInput, now: Date = Date()
    ) throws -> CampaignRecord {
        let account = try ContactOperations.clientAccount(connection, principal, accountID, for: .consumeCredits)
        try Operations.requireActive(account)
        try requireCampaigns(account)
        let list = try ContactOperations.loadList(connection, principal, input.listID, for: .read)
        guard list.accountID == account.id else { throw DomainError.invalid("list_id", "is a list of another account") }
        let template = try MessageTemplate(input.template)
        guard input.mediaURLs.count <= MessagePricing.maxMediaURLs else {
            throw DomainError.invalid("media_urls", "at most \(MessagePricing.maxMediaURLs) media URLs")
        }
        for (index, url) in input.mediaURLs.enumerated() { _ = try Validate.httpURL(url, field: "media_urls[\(index)]") }
        return try CampaignStore.insert(
            connection, account: account, userID: principal.userID, listID: list.id,
            name: try Validate.name(input.name), template: template.text, mediaURLs: input.mediaURLs,
            sendAt: try scheduledTime(account, input.sendAt, now: now))
    }

    /// A campaign's send time, under the same rule as a scheduled message's; nil means now.
    static func scheduledTime(_ account: AccountRecord, _ sendAt: Date?, now: Date) throws -> Date? {
        try Scheduling.sendTime(sendAt, now: now, schedulingEnabled: account.effectiveFeatures.contains(.scheduling))
    }

    static func load(_ connection: PostgresConnection, _ principal: Principal, _ id: UUID, for action: Action, lock: Bool) throws
        -> (CampaignRecord, AccountRecord)
    {
        try Operations.owned(
            connection, principal, try lock ? CampaignStore.lock(connection, id: id) : CampaignStore.campaign(connection, id: id),
            owner: \.accountID, for: action, what: "campaign")
    }

    static func gateway(_ connection: PostgresConnection, _ principal: Principal, _ account: AccountRecord) throws
        -> GatewayConnectionRecord
    {
        guard let gateway = try GatewayStore.sendingConnection(connection, accountID: account.id, userID: principal.userID) else {
            throw DomainError(.conflict, "no gateway connection: link the office's or your own first")
        }
        return gateway
    }

    /// Every list member, in list order, as a message to send or a reason not to.
    static func plan(
        _ connection: PostgresConnection, _ campaign: CampaignRecord, _ account: AccountRecord, _ gateway: GatewayConnectionRecord
    ) throws -> Plan {
        let pricing = try MessagingOperations.OutboundPricing.load(connection, account: account, gateway: gateway)
        let template = try MessageTemplate(campaign.template)
        var plan = Plan(unit: campaign.mediaURLs.isEmpty ? .sms : .mms)
        var seen = Set<String>()
        for (index, member) in try ContactStore.recipients(connection, listID: campaign.listID).enumerated() {
            let position = index + 1
            let contact = member.contact
            func skip(_ reason: String) { plan.skipped.append((position, contact.id, contact.mobile, reason)) }
            guard let mobile = contact.mobile else { skip("no mobile number"); continue }
            guard contact.smsConsent else { skip("no SMS consent"); continue }
            guard !member.optedOut else { skip("opted out"); continue }
            guard seen.insert(mobile).inserted else { skip("duplicate number: sent to an earlier contact"); continue }
            let text = template.render(contact.templateValues)
            do {
                let price = try pricing.price(to: PhoneNumber(e164: mobile), text: text, mediaCount: campaign.mediaURLs.count)
                plan.messages.append(
                    CampaignMessage(
                        position: position, contactID: contact.id, messageID: UUID(), phone: mobile, text: text,
                        segments: price.segments, credits: price.credits))
            } catch let error as DomainError {
                skip(error.message)
            }
        }
        return plan
    }

    package static func quote(_ connection: PostgresConnection, _ principal: Principal, campaignID: UUID) throws -> Quote {
        let (campaign, account) = try load(connection, principal, campaignID, for: .read, lock: false)
        let plan = try plan(connection, campaign, account, try gateway(connection, principal, account))
        let balance = try LedgerStore.balances(connection, account: account).first { $0.unit == plan.unit }
        return Quote(
            members: plan.messages.count + plan.skipped.count, recipients: plan.messages.count,
            skipped: Dictionary(plan.skipped.map { ($0.reason, 1) }, uniquingKeysWith: +),
            segments: plan.messages.reduce(0) { $0 + $1.segments }, unit: plan.unit, creditsNeeded: plan.credits,
            creditsAvailable: balance?.available ?? 0)
    }

    /// A test dispatch of the draft to one number, rendered for the first recipient: an
    /// ordinary message that costs its credits.
    package static func test(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, campaignID: UUID, to: String
    ) throws -> MessageRecord {
        let (campaign, account) = try load(connection, principal, campaignID, for: .consumeCredits, lock: false)
        guard campaign.status == .draft else {
            throw DomainError(.conflict, "the campaign is \(campaign.status.rawValue); test a draft")
        }
        let plan = try plan(connection, campaign, account, try gateway(connection, principal, account))
        let text = try plan.messages.first?.text ?? MessageTemplate(campaign.template).render([:])
        return try MessagingOperations.send(
            connection, principal, context, accountID: account.id,
            input: .init(to: to, text: text, mediaURLs: campaign.mediaURLs, sendAt: nil))
    }

    /// Confirms a draft: terms accepted, recipients snapshotted, every credit reserved in one batch.
    package static func confirm(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, campaignID: UUID,
        acceptTerms: Bool, sendAt: Date?, now: Date = Date()
    ) throws -> CampaignRecord {
        let (campaign, account) = try load(connection, principal, campaignID, for: .consumeCredits, lock: true)
        guard campaign.status == .draft else {
            throw DomainError(.conflict, "the campaign is already \(campaign.status.rawValue)")
        }
        guard acceptTerms else { throw DomainError.invalid("accept_terms", "the campaign terms must be accepted (true)") }
        try Operations.requireActive(account)
        try requireCampaigns(account)
        let gateway = try gateway(connection, principal, account)
        let plan = try plan(connection, campaign, account, gateway)
        guard !plan.messages.isEmpty else {
            throw DomainError(
                .conflict, "no member of the list can be sent to", details: ["skipped": .int(Int64(plan.skipped.count))])
        }
        try Operations.requireUnitAllowed(account, plan.unit)
        let sendAt = try scheduledTime(account, sendAt ?? campaign.sendAt, now: now)
        // The whole campaign counts against the day's and month's caps, or none of it goes.
        let caps = try CapStore.caps(connection, accountID: account.id)
        try CapOperations.checkDestinations(caps, plan.messages.map { $0.phone.dropFirst() })
        try CapOperations.consume(
            connection, account: account, caps: caps, unit: plan.unit, credits: plan.credits,
            messages: Int64(plan.messages.count), perMinute: false, now: now)
        let batch = try LedgerStore.reserveBatch(
            connection, context, account: account, unit: plan.unit,
            items: plan.messages.map { ($0.credits, CampaignStore.reference(campaign.id, $0.position)) })
        context.tally.messages(sendAt == nil ? .queued : .scheduled, count: plan.messages.count)
        return try CampaignStore.confirm(
            connection,
            .init(
                campaign: campaign, account: account, userID: principal.userID, gateway: gateway, unit: plan.unit,
                sendAt: sendAt, batchID: batch.batchID, messages: plan.messages, skipped: plan.skipped))
    }

    /// Cancels what has not gone: each unsent message's reservation is voided. Messages already
    /// submitted (or being submitted right now) keep their course.
    package static func cancel(
        _ connection: PostgresConnection, _ principal: Principal, _ context: OperationContext, campaignID: UUID
    ) throws -> (CampaignRecord, cancelled: Int) {
        let (campaign, _) = try load(connection, principal, campaignID, for: .consumeCredits, lock: true)
        guard campaign.status != .cancelled else { throw DomainError(.conflict, "the campaign is already cancelled") }
        var cancelled = 0
        for message in try CampaignStore.lockUnsentMessages(connection, campaignID: campaign.id) {
            if try MessagingOperations.cancelUnsent(connection, context, message) != nil { cancelled += 1 }
        }
        return (try CampaignStore.markCancelled(connection, id: campaign.id), cancelled)
    }

    package static func campaign(_ connection: PostgresConnection, _ principal: Principal, campaignID: UUID) throws
        -> (CampaignRecord, [String: Int])
    {
        let (campaign, _) = try load(connection, principal, campaignID, for: .read, lock: false)
        return (campaign, try CampaignStore.statusCounts(connection, campaignID: campaign.id))
    }

    /// A campaign's progress: its messages by status and the rate over the last minute.
    package static func progress(_ connection: PostgresConnection, _ principal: Principal, campaignID: UUID, now: Date = Date())
        throws -> (CampaignRecord, [String: Int], CampaignProgress)
    {
        let (campaign, counts) = try self.campaign(connection, principal, campaignID: campaignID)
        let recent = try CampaignStore.recentlySent(connection, campaignID: campaign.id, seconds: 60)
        return (campaign, counts, CampaignProgress(counts: counts, acceptedRecently: recent, window: 60, now: now))
    }

    package static func campaigns(
        _ connection: PostgresConnection, _ principal: Principal, accountID: UUID, afterID: UUID?, limit: Int
    ) throws -> [CampaignRecord] {
        _ = try Operations.account(connection, principal, accountID, for: .read)
        return try CampaignStore.campaigns(connection, accountID: accountID, afterID: afterID, limit: limit)
    }

    package static func recipients(
        _ connection: PostgresConnection, _ principal: Principal, campaignID: UUID, afterPosition: Int?, limit: Int
    ) throws -> [CampaignRecipientRecord] {
        let (campaign, _) = try load(connection, principal, campaignID, for: .read, lock: false)
        return try CampaignStore.recipients(connection, campaignID: campaign.id, afterPosition: afterPosition, limit: limit)
    }
}
