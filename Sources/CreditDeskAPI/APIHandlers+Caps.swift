import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// A client's spend and velocity caps.
extension APIHandlers {
    func getSpendingCaps(_ input: Endpoints.GetSpendingCaps.Input) async throws -> Endpoints.GetSpendingCaps.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let (caps, usage) = try CapOperations.caps(connection, principal, accountID: id)
            return Components.Schemas.SpendingCaps(accountID: id, caps, usage: usage)
        })))
    }

    func setSpendingCaps(_ input: Endpoints.SetSpendingCaps.Input) async throws -> Endpoints.SetSpendingCaps.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let caps = SpendingCaps(
            timeZone: body.timeZone ?? "UTC",
            creditsPerDay: [.sms: body.smsPerDay, .mms: body.mmsPerDay].compactMapValues { $0 },
            creditsPerMonth: [.sms: body.smsPerMonth, .mms: body.mmsPerMonth].compactMapValues { $0 },
            messagesPerMinute: body.messagesPerMinute, allowedCountries: body.allowedCountries)
        let (answer, replayed) = try await access.mutate(Components.Schemas.SpendingCaps.self, input: body) {
            connection, principal, operation in
            _ = try CapOperations.setCaps(connection, principal, operation, accountID: id, caps: caps)
            let (stored, usage) = try CapOperations.caps(connection, principal, accountID: id)
            return Components.Schemas.SpendingCaps(accountID: id, stored, usage: usage)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(answer)))
    }
}

extension Components.Schemas.SpendingCaps {
    init(accountID: UUID, _ caps: SpendingCaps?, usage: [CapOperations.Usage]) {
        let caps = caps ?? .none
        self.init(
            accountId: accountID.objectID, timeZone: caps.timeZone, smsPerDay: caps.creditsPerDay[.sms],
            smsPerMonth: caps.creditsPerMonth[.sms], mmsPerDay: caps.creditsPerDay[.mms],
            mmsPerMonth: caps.creditsPerMonth[.mms], messagesPerMinute: caps.messagesPerMinute,
            allowedCountries: caps.allowedCountries,
            usage: usage.map { .init(cap: $0.cap, limit: $0.limit, used: $0.used, resetsAt: $0.resetsAt) })
    }
}
