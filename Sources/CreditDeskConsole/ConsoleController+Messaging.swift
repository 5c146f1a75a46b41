import CreditDeskCore
import CreditDeskDB
import CreditDeskServices
import CreditDeskStore
import Foundation
import Hummingbird

/// A client's messaging: compose an SMS or MMS, the messages sent and received, cancelling one
/// that has not gone.
extension ConsoleController {
    func compose(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        try await composePage(session, request, values: [:], error: nil)
    }

    /// The compose form, with what was typed and, after a refusal, why (inline, beside the form).
    func composePage(
        _ session: ConsoleSession, _ request: Request, values: [String: String], error: String?
    ) async throws -> Response {
        let principal = session.principal
        guard principal.accountKind == .client else { return try pages.notFound(session, request) }
        let (account, balances, hints) = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
            connection in
            let (account, balances) = try Operations.balances(connection, principal, accountID: principal.accountID)
            return (account, balances, try MessagingOperations.composeHints(connection, principal, accountID: account.id))
        }
        let rates = Dictionary(uniqueKeysWithValues: hints.rates.entries.map { ($0.prefix, $0.creditsPerSegment) })
        var data: [String: Any] = [
            "balances": Self.smsFirst(balances).map(Self.balanceData), "formKey": UUID().lower,
            "mms": account.effectiveFeatures.contains(.mms), "scheduling": account.effectiveFeatures.contains(.scheduling),
            "gsm": Segmenter.basicAlphabet, "gsmExtended": Segmenter.extendedAlphabet, "home": hints.homePrefix ?? "",
            "rates": String(decoding: try JSONEncoder().encode(rates), as: UTF8.self),
            "to": values["to"] ?? "", "text": values["text"] ?? "", "media": values["media"] ?? "",
            "sendAt": values["send_at"] ?? "",
        ]
        if let error { data["error"] = error }
        return try pages.page("compose", session, request, title: "nav_compose", data, status: error == nil ? .ok : .unprocessableContent)
    }

    /// Sends what the compose form holds; a refusal (opted out, MMS not enabled, no credits)
    /// shows on the form again with the text kept.
    static func send(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let media = submission.lines("media")
        let sendAt = try submission.given("send_at").map { value in
            // A datetime-local field: minutes, in UTC as the form says.
            guard let date = ISO8601.parse(value.count == 16 ? value + ":00Z" : value) else {
                throw DomainError.invalid("send_at", "is not a date and time")
            }
            return date
        }
        let message = try MessagingOperations.send(
            connection, principal, operation, accountID: principal.accountID,
            input: .init(to: submission.field("to") ?? "", text: submission.field("text") ?? "", mediaURLs: media, sendAt: sendAt))
        return Done(
            flash: submission.text(
                message.status == .scheduled ? "flash_scheduled" : "flash_queued",
                [
                    "to": message.recipient, "segments": String(message.segments), "credits": formatted(message.credits),
                    "unit": message.unit.rawValue.uppercased(),
                ]),
            location: "/console/messages")
    }

    func composeRefused(_ session: ConsoleSession, _ request: Request, _ submission: Submission, _ error: DomainError)
        async throws -> Response
    {
        let values = submission.form.compactMapValues(\.first).filter { ["to", "text", "media", "send_at"].contains($0.key) }
        return try await composePage(session, request, values: values, error: submission.catalogue.error(error))
    }

    func messages(_ session: ConsoleSession, _ request: Request) async throws -> Response {
        let principal = session.principal
        guard principal.accountKind == .client else { return try pages.notFound(session, request) }
        let query = request.uri.queryParameters
        let direction = query["direction"].flatMap { MessageDirection(rawValue: String($0)) }
        let status = query["status"].flatMap { MessageStatus(rawValue: String($0)) }
        let phone = query["phone"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let after = query["after"].flatMap { UUID(uuidString: String($0)) }
        var data: [String: Any] = [
            "phone": phone ?? "", "formKey": UUID().lower,
            "directions": [MessageDirection.outbound, .inbound].map {
                ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == direction] as [String: Any]
            },
            "statuses": MessageStatus.allCases.map {
                ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == status] as [String: Any]
            },
        ]
        do {
            let rows = try await pool.withTransaction(isolation: .repeatableRead, readOnly: true) {
                try MessagingOperations.messages(
                    $0, principal, accountID: principal.accountID, direction: direction, status: status, phone: phone,
                    afterID: after, limit: Self.pageSize + 1)
            }
            let shown = rows.prefix(Self.pageSize)
            data["rows"] = shown.map(Self.messageData)
            data["hasRows"] = !shown.isEmpty
            if rows.count > Self.pageSize, let last = shown.last {
                let filters = [("direction", direction?.rawValue), ("status", status?.rawValue), ("phone", phone)]
                    .compactMap { name, value in value.map { "\(name)=\(queryEscaped($0))&" } }.joined()
                data["next"] = "/console/messages?\(filters)after=\(last.id.lower)"
            }
        } catch let error as DomainError {
            data["error"] = pages.catalogue(request, setting: session.language).error(error)
        }
        return try pages.page("messages", session, request, title: "nav_messages", data)
    }

    static func messageData(_ message: MessageRecord) -> [String: Any] {
        let outbound = message.direction == .outbound
        return [
            "id": message.id.lower, "time": shortTime(message.sendAt ?? message.createdAt),
            "outbound": outbound, "party": outbound ? message.recipient : message.sender,
            "text": message.body.count > 80 ? String(message.body.prefix(79)) + "…" : message.body,
            "unit": message.unit.rawValue.uppercased(), "segments": message.segments, "credits": formatted(message.credits),
            "status": message.status.rawValue, "reason": message.failureReason ?? "",
            "cancellable": message.status == .queued || message.status == .scheduled,
        ]
    }

    static func cancelMessage(
        _ connection: PostgresConnection, _ principal: Principal, _ operation: OperationContext, _ submission: Submission
    ) throws -> Done {
        let message = try MessagingOperations.cancel(connection, principal, operation, messageID: submission.id)
        return Done(flash: submission.text("flash_cancelled", ["to": message.recipient]))
    }
}
