import CreditDeskCore
import Foundation
import Hummingbird

/// `GET /openapi.json`: an OpenAPI 3.1 description of every route. Request-body properties
/// come from the same field sets the decoder enforces, so the two cannot drift apart.
struct OpenAPIController {
    struct Operation {
        let method: String
        let path: String
        let summary: String
        var body: Set<String>? = nil
        var status: Int = 200
        var isPublic = false
        var mutating: Bool { method != "get" && !isPublic }
    }

    static let operations: [Operation] = [
        .init(method: "get", path: "/healthz", summary: "The process is up", isPublic: true),
        .init(method: "get", path: "/readyz", summary: "The database answers and is migrated", isPublic: true),
        .init(method: "get", path: "/openapi.json", summary: "This document", isPublic: true),
        .init(method: "get", path: "/v1/me", summary: "The calling user and its account"),
        .init(method: "post", path: "/v1/accounts", summary: "Create a reseller or client under a parent",
              body: AccountsController.CreateAccount.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}", summary: "One account"),
        .init(method: "patch", path: "/v1/accounts/{id}", summary: "Rename, suspend or reactivate an account",
              body: AccountsController.UpdateAccount.fields),
        .init(method: "get", path: "/v1/accounts/{id}/children", summary: "Direct children, searchable, paginated"),
        .init(method: "get", path: "/v1/accounts/{id}/features", summary: "Own and effective features"),
        .init(method: "patch", path: "/v1/accounts/{id}/features", summary: "Switch features of a child account",
              body: Set(Feature.allCases.map(\.rawValue))),
        .init(method: "post", path: "/v1/accounts/{id}/users", summary: "Create a user",
              body: AccountsController.CreateUser.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/users", summary: "Users of an account"),
        .init(method: "post", path: "/v1/users/{id}/keys", summary: "Create an API key (secret shown once)",
              body: AccountsController.CreateKey.fields, status: 201),
        .init(method: "get", path: "/v1/users/{id}/keys", summary: "A user's API keys (no secrets)"),
        .init(method: "delete", path: "/v1/keys/{id}", summary: "Revoke an API key"),
        .init(method: "post", path: "/v1/accounts/{id}/packages", summary: "Add a package to a reseller's catalogue",
              body: CreditsController.CreatePackage.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/packages", summary: "A reseller's catalogue"),
        .init(method: "patch", path: "/v1/packages/{id}", summary: "Rename or (de)activate a package",
              body: CreditsController.UpdatePackage.fields),
        .init(method: "post", path: "/v1/accounts/{id}/package-sales", summary: "Sell a package to this account",
              body: CreditsController.SellPackage.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/balances", summary: "SMS and MMS balances"),
        .init(method: "post", path: "/v1/accounts/{id}/credits/adjust", summary: "Add or remove credits manually",
              body: CreditsController.Adjust.fields),
        .init(method: "post", path: "/v1/accounts/{id}/credits/transfer",
              summary: "Move credits from this account to a direct child", body: CreditsController.Transfer.fields),
        .init(method: "put", path: "/v1/accounts/{id}/credit-limit", summary: "Set the postpaid credit limit",
              body: CreditsController.CreditLimit.fields),
        .init(method: "post", path: "/v1/accounts/{id}/reservations", summary: "Reserve credits",
              body: CreditsController.Reserve.fields, status: 201),
        .init(method: "post", path: "/v1/accounts/{id}/reservations/bulk",
              summary: "Reserve credits for up to 100,000 messages at once (one batch, all or nothing)",
              body: CreditsController.ReserveBatch.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/reservations",
              summary: "Reservations, newest first, filtered by status or batch, paginated"),
        .init(method: "post", path: "/v1/reservations/{id}/post", summary: "Commit all or part of a reservation",
              body: CreditsController.Post.fields),
        .init(method: "post", path: "/v1/reservations/{id}/void", summary: "Release a reservation", body: []),
        .init(method: "post", path: "/v1/accounts/{id}/charges", summary: "Charge credits immediately",
              body: CreditsController.Charge.fields, status: 201),
        .init(method: "post", path: "/v1/accounts/{id}/credits/expire",
              summary: "Expire a child's unreserved credits (all, or an amount)",
              body: CreditsController.Expire.fields, status: 201),
        .init(method: "post", path: "/v1/entries/{id}/refund", summary: "Refund a charge or post",
              body: CreditsController.Refund.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/entries", summary: "Entry history, filtered, paginated"),
        .init(method: "post", path: "/v1/accounts/{id}/gateways",
              summary: "Link a gateway connection (office or an agent's own); the password is write-only",
              body: MessagingController.CreateGateway.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/gateways", summary: "Gateway connections, without secrets"),
        .init(method: "put", path: "/v1/accounts/{id}/rates/{prefix}",
              summary: "Credits per SMS segment for a destination prefix (a reseller's rate table)",
              body: MessagingController.Rate.fields),
        .init(method: "post", path: "/v1/accounts/{id}/messages",
              summary: "Send an SMS or MMS (now or at send_at): reserves its credits and queues it",
              body: MessagingController.SendMessage.fields, status: 202),
        .init(method: "get", path: "/v1/accounts/{id}/messages", summary: "Sent and received messages, filtered, paginated"),
        .init(method: "post", path: "/v1/messages/{id}/cancel", summary: "Cancel a message before it goes", body: []),
        .init(method: "post", path: "/v1/accounts/{id}/contacts", summary: "Add a contact (phones in E.164, SMS consent)",
              body: ContactsController.Contact.fields, status: 201),
        .init(method: "post", path: "/v1/accounts/{id}/contacts/batch",
              summary: "Add up to 10,000 contacts at once, optionally to a list (all or nothing)",
              body: ContactsController.ContactBatch.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/contacts", summary: "Contacts by first name, searchable, paginated"),
        .init(method: "patch", path: "/v1/contacts/{id}", summary: "Change a contact (an empty string clears a field)",
              body: ContactsController.Contact.fields),
        .init(method: "post", path: "/v1/accounts/{id}/contact-lists", summary: "Create a contact list",
              body: ContactsController.CreateList.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/contact-lists", summary: "Contact lists with member counts"),
        .init(method: "post", path: "/v1/contact-lists/{id}/members", summary: "Add contacts to a list",
              body: ContactsController.Members.fields),
        .init(method: "put", path: "/v1/accounts/{id}/messaging-settings",
              summary: "The order of phone fields an inbound reply is matched against",
              body: ContactsController.Settings.fields),
        .init(method: "get", path: "/v1/accounts/{id}/messaging-settings", summary: "Messaging settings"),
        .init(method: "post", path: "/v1/accounts/{id}/campaigns", summary: "Create a campaign draft: a template to a list",
              body: CampaignsController.CreateCampaign.fields, status: 201),
        .init(method: "get", path: "/v1/accounts/{id}/campaigns", summary: "Campaigns, newest first, paginated"),
        .init(method: "get", path: "/v1/campaigns/{id}", summary: "A campaign with its messages counted by status"),
        .init(method: "get", path: "/v1/campaigns/{id}/quote",
              summary: "Recipients, segments and credits needed against credits available; skipped members by reason"),
        .init(method: "post", path: "/v1/campaigns/{id}/test", summary: "Send the draft to one number (costs its credits)",
              body: CampaignsController.TestDispatch.fields, status: 202),
        .init(method: "post", path: "/v1/campaigns/{id}/confirm",
              summary: "Accept the terms and confirm: reserves the whole campaign's credits in one batch",
              body: CampaignsController.Confirm.fields),
        .init(method: "post", path: "/v1/campaigns/{id}/cancel", summary: "Cancel what has not gone (voids its credits)", body: []),
        .init(method: "get", path: "/v1/campaigns/{id}/recipients", summary: "Per-recipient results: message status or skip reason"),
        .init(method: "post", path: "/v1/accounts/{id}/opt-outs", summary: "Unsubscribe numbers, or a whole contact list, in batch",
              body: MessagingController.OptOuts.fields),
        .init(method: "get", path: "/v1/accounts/{id}/opt-outs", summary: "The opt-out list, paginated"),
        .init(method: "delete", path: "/v1/accounts/{id}/opt-outs/{phone}", summary: "Opt a number back in"),
        .init(method: "put", path: "/v1/users/{id}/reply-routing",
              summary: "Forward replies to the user's email or mobile (mobile: not in email-only countries)",
              body: MessagingController.ReplyRouting.fields),
        .init(method: "get", path: "/v1/users/{id}/reply-routing", summary: "Where the user's replies are forwarded"),
        .init(method: "get", path: "/v1/callbacks/kannel/{gateway}/dlr", summary: "Kannel delivery report (signed URL)", isPublic: true),
        .init(method: "get", path: "/v1/callbacks/kannel/{gateway}/mo", summary: "Kannel inbound message (token)", isPublic: true),
        .init(method: "post", path: "/v1/callbacks/twilio/{gateway}/status", summary: "Twilio status callback (signed URL)", isPublic: true),
        .init(method: "post", path: "/v1/callbacks/twilio/{gateway}/inbound", summary: "Twilio inbound webhook (token)", isPublic: true),
        .init(method: "get", path: "/v1/accounts/{id}/clients",
              summary: "Clients with SMS/MMS available, reserved and used this month"),
        .init(method: "get", path: "/v1/accounts/{id}/dashboard", summary: "Usage of the subtree this month"),
        .init(method: "get", path: "/v1/accounts/{id}/usage",
              summary: "Usage per account and day or month: opening, flows, closing; revenue per currency"),
        .init(method: "get", path: "/v1/accounts/{id}/usage/export",
              summary: "Stream usage as CSV or JSON Lines (daily rows or every entry)"),
    ]

    static let queryParameters: [String: [String]] = [
        "/v1/accounts/{id}/children": ["search", "limit", "cursor"],
        "/v1/accounts/{id}/packages": ["active"],
        "/v1/accounts/{id}/entries": ["unit", "kind", "from", "to", "limit", "cursor"],
        "/v1/accounts/{id}/reservations": ["status", "batch_id", "limit", "cursor"],
        "/v1/accounts/{id}/messages": ["direction", "status", "phone", "limit", "cursor"],
        "/v1/accounts/{id}/opt-outs": ["limit", "cursor"],
        "/v1/accounts/{id}/contacts": ["search", "limit", "cursor"],
        "/v1/accounts/{id}/contact-lists": ["limit", "cursor"],
        "/v1/accounts/{id}/campaigns": ["limit", "cursor"],
        "/v1/campaigns/{id}/recipients": ["limit", "cursor"],
        "/v1/accounts/{id}/clients": ["search", "sort", "order", "limit", "cursor"],
        "/v1/accounts/{id}/usage": ["from", "to", "tz", "group", "scope"],
        "/v1/accounts/{id}/usage/export": ["from", "to", "tz", "group", "scope", "detail", "format"],
        "/v1/callbacks/kannel/{gateway}/dlr": ["message", "status", "signature"],
        "/v1/callbacks/kannel/{gateway}/mo": ["from", "to", "text", "id", "token"],
        "/v1/callbacks/twilio/{gateway}/status": ["message", "signature"],
        "/v1/callbacks/twilio/{gateway}/inbound": ["token"],
    ]

    /// Every `{name}` of a path, declared with its type: entry ids are integers, rate prefixes
    /// calling codes, phones E.164, every other id a UUID.
    static func pathParameters(_ path: String) -> [JSONValue] {
        path.matches(of: /\{([a-z_]+)\}/).map { match in
            let name = String(match.1)
            let schema: JSONValue =
                switch name {
                case "id" where path.hasPrefix("/v1/entries/"): .object(["type": "integer", "format": "int64", "minimum": .int(1)])
                case "prefix": .object(["type": "string", "pattern": "^[1-9][0-9]{0,5}$"])
                case "phone": .object(["type": "string", "description": "E.164, e.g. +64215550100 (percent-encode the +)"])
                default: .object(["type": "string", "format": "uuid"])
                }
            return .object(["name": .string(name), "in": "path", "required": .bool(true), "schema": schema])
        }
    }

    /// The methods documented for a concrete path (`{name}` matches one segment); empty when
    /// no route has this path at all.
    static func methods(at path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return operations.filter { operation in
            let pattern = operation.path.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { expected, actual in
                    expected.hasPrefix("{") ? !actual.isEmpty : expected == actual
                }
        }.map { $0.method.uppercased() }
    }

    static let document: JSONValue = {
        var paths = [String: JSONValue]()
        for operation in operations {
            var parameters = pathParameters(operation.path)
            // Query parameters of the GET at the path (not of a POST beside it), and the callbacks'.
            for name in queryParameters[operation.path] ?? [] where operation.method == "get" || operation.isPublic {
                parameters.append(.object(["name": .string(name), "in": "query", "schema": .object(["type": "string"])]))
            }
            if operation.mutating {
                parameters.append(
                    .object([
                        "name": "Idempotency-Key", "in": "header", "required": .bool(true),
                        "schema": .object(["type": "string", "maxLength": .int(255)]),
                    ]))
            }
            var entry: [String: JSONValue] = [
                "summary": .string(operation.summary),
                "responses": .object([
                    String(operation.status): .object(["description": "Success"]),
                    "default": .object([
                        "description": "Error",
                        "content": .object(["application/json": .object(["schema": .object(["$ref": "#/components/schemas/Error"])])]),
                    ]),
                ]),
            ]
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            if let fields = operation.body {
                entry["requestBody"] = .object([
                    "required": .bool(true),
                    "content": .object([
                        "application/json": .object([
                            "schema": .object([
                                "type": "object", "additionalProperties": .bool(false),
                                "properties": .object(Dictionary(uniqueKeysWithValues: fields.map { ($0, .object([:])) })),
                            ])
                        ])
                    ]),
                ])
            }
            if operation.isPublic { entry["security"] = .array([]) }
            var methods = [String: JSONValue]()
            if case .object(let existing)? = paths[operation.path] { methods = existing }
            methods[operation.method] = .object(entry)
            paths[operation.path] = .object(methods)
        }
        return .object([
            "openapi": "3.1.0",
            "info": .object(["title": "CreditDesk API", "version": "1"]),
            "security": .array([.object(["bearer": .array([])])]),
            "components": .object([
                "securitySchemes": .object(["bearer": .object(["type": "http", "scheme": "bearer"])]),
                "schemas": .object([
                    "Error": .object([
                        "type": "object",
                        "properties": .object([
                            "error": .object([
                                "type": "object",
                                "required": .array(["code", "message"]),
                                "properties": .object([
                                    "code": .object(["type": "string"]), "message": .object(["type": "string"]),
                                    "details": .object(["type": "object"]),
                                ]),
                            ])
                        ]),
                    ])
                ]),
            ]),
            "paths": .object(paths),
        ])
    }()

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/openapi.json") { _, _ in
            try JSONResponse.make(status: .ok, body: Self.document)
        }
    }
}
