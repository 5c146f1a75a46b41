import Foundation

/// Where a request came from, for the audit log: the front door, the API key or console
/// session that authenticated it, and the peer's address. Never a secret: a key or session is
/// named by its id, not by its token or the token's hash.
package struct RequestOrigin: Sendable, Equatable {
    package enum Channel: String, Sendable, CaseIterable {
        case api, console, library
        /// The daemon's own work (the dispatcher, delivery reports): no person behind it.
        case system
    }

    package let channel: Channel
    package let keyID: UUID?
    package let sessionID: UUID?
    /// An IP address (v4 or v6) as text; nil when unknown.
    package let sourceAddress: String?

    package init(channel: Channel, keyID: UUID? = nil, sessionID: UUID? = nil, sourceAddress: String? = nil) {
        self.channel = channel
        self.keyID = keyID
        self.sessionID = sessionID
        self.sourceAddress = sourceAddress.flatMap(Self.ipAddress)
    }

    package static let system = RequestOrigin(channel: .system)
    package static let library = RequestOrigin(channel: .library)

    /// `text` if it is an IPv4 or IPv6 address (a zone index dropped), else nil, so a peer
    /// described as "unknown" or a socket path never reaches the log's `inet` column. Parsed as
    /// key ranges parse addresses (`AddressRange.address`).
    static func ipAddress(_ text: String) -> String? {
        let address = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        return AddressRange.address(address) == nil ? nil : address
    }
}

/// What an audited change did: `<object>.<verb>`. Stable names: clients filter on them.
package enum AuditAction: String, Sendable, CaseIterable {
    case accountCreated = "account.created"
    case accountRenamed = "account.renamed"
    case accountSuspended = "account.suspended"
    case accountReactivated = "account.reactivated"
    case featuresChanged = "features.changed"
    case creditLimitChanged = "credit_limit.changed"
    case userCreated = "user.created"
    case userPasswordSet = "user.password_set"
    case userPasswordLinkCreated = "user.password_link_created"
    case userLanguageChanged = "user.language_changed"
    case keyCreated = "key.created"
    case keyRevoked = "key.revoked"
    case packageCreated = "package.created"
    case packageUpdated = "package.updated"
    case rateSet = "rate.set"
    case gatewayCreated = "gateway.created"
    case gatewayLimitsChanged = "gateway.limits_changed"
    case replyRoutingChanged = "reply_routing.changed"
    case replyMatchOrderChanged = "reply_match_order.changed"
    case optOutsAdded = "opt_outs.added"
    case optOutRemoved = "opt_out.removed"
    case approvalThresholdChanged = "approval_threshold.changed"
    case approvalRequested = "approval.requested"
    case approvalApproved = "approval.approved"
    case approvalRejected = "approval.rejected"
    case capsChanged = "caps.changed"
    case balanceAlertChanged = "balance_alert.changed"
    case autoTopUpChanged = "auto_top_up.changed"
    case webhookCreated = "webhook.created"
    case webhookChanged = "webhook.changed"
    case webhookDeleted = "webhook.deleted"

    /// The kind of object the action is about; its id is in the event's `objectID`.
    package var objectType: String {
        switch self {
        case .accountCreated, .accountRenamed, .accountSuspended, .accountReactivated, .featuresChanged,
            .creditLimitChanged, .replyMatchOrderChanged, .optOutsAdded, .approvalThresholdChanged,
            .capsChanged, .balanceAlertChanged, .autoTopUpChanged:
            "account"
        case .approvalRequested, .approvalApproved, .approvalRejected: "approval"
        case .userCreated, .userPasswordSet, .userPasswordLinkCreated, .userLanguageChanged, .replyRoutingChanged:
            "user"
        case .keyCreated, .keyRevoked: "key"
        case .packageCreated, .packageUpdated: "package"
        case .rateSet: "rate"
        case .gatewayCreated, .gatewayLimitsChanged: "gateway"
        case .optOutRemoved: "opt_out"
        case .webhookCreated, .webhookChanged, .webhookDeleted: "webhook"
        }
    }
}

/// A value an audited field held: text, a whole number, a flag, or a list of text.
package enum AuditValue: Sendable, Equatable, Codable {
    case text(String)
    case number(Int64)
    case flag(Bool)
    case list([String])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .flag(flag)
        } else if let number = try? container.decode(Int64.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .list(try container.decode([String].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .flag(let flag): try container.encode(flag)
        case .list(let list): try container.encode(list)
        }
    }
}

/// One field's change: nil before means it did not exist (a creation); nil after, that it
/// was removed.
package struct AuditChange: Sendable, Equatable, Codable {
    package let field: String
    package let before: AuditValue?
    package let after: AuditValue?

    package init(field: String, before: AuditValue?, after: AuditValue?) {
        self.field = field
        self.before = before
        self.after = after
    }

    /// The fields whose values differ between `before` and `after`, by field name.
    package static func diff(_ before: [String: AuditValue?], _ after: [String: AuditValue?]) -> [AuditChange] {
        Set(before.keys).union(after.keys).sorted().compactMap { field in
            let old = before[field] ?? nil, new = after[field] ?? nil
            return old == new ? nil : AuditChange(field: field, before: old, after: new)
        }
    }

    /// Every field of a new object, as a change from nothing.
    package static func created(_ fields: [String: AuditValue?]) -> [AuditChange] { diff([:], fields) }
}

extension [AuditChange] {
    /// `AuditChange.created`, where a list of changes is expected.
    package static func created(_ fields: [String: AuditValue?]) -> [AuditChange] { AuditChange.created(fields) }
}

/// One change to write down: what was done to which object of which account.
package struct AuditEvent: Sendable, Equatable {
    package let action: AuditAction
    package let objectID: String
    package let changes: [AuditChange]

    package init(_ action: AuditAction, objectID: UUID, changes: [AuditChange] = []) {
        self.init(action, objectID: objectID.uuidString.lowercased(), changes: changes)
    }

    package init(_ action: AuditAction, objectID: String, changes: [AuditChange] = []) {
        self.action = action
        self.objectID = objectID
        self.changes = changes
    }
}

/// Which audit rows a reader wants. Every filter is optional; `from` is inclusive, `to` not.
package struct AuditFilter: Sendable, Equatable {
    package var action: AuditAction?
    package var actorUserID: UUID?
    package var objectID: String?
    package var from: Date?
    package var to: Date?

    package init(
        action: AuditAction? = nil, actorUserID: UUID? = nil, objectID: String? = nil, from: Date? = nil, to: Date? = nil
    ) {
        self.action = action
        self.actorUserID = actorUserID
        self.objectID = objectID
        self.from = from
        self.to = to
    }
    /// Refuses an object id no object has (empty, longer than 200 characters, or holding
    /// control characters). A period that ends before it starts is simply empty.
    package func validate() throws(DomainError) {
        if let objectID,
            objectID.isEmpty || objectID.count > 200 || objectID.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        {
            throw DomainError.invalid("object", "must be 1 to 200 characters without control characters")
        }
    }
}
