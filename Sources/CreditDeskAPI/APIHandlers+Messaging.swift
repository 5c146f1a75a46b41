import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Gateway connections, rates, sending, listing and cancelling messages, opt-outs, and where
/// a user's replies go.
extension APIHandlers {
    func listGateways(_ input: Endpoints.ListGateways.Input) async throws -> Endpoints.ListGateways.Output {
        let id = input.path.id.uuid
        let settings = messaging
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.GatewayPage(
                all: try MessagingOperations.gateways(connection, principal, accountID: id).map {
                    Components.Schemas.Gateway($0, settings: settings, callbackToken: nil)
                })
        })))
    }

    func createGateway(_ input: Endpoints.CreateGateway.Input) async throws -> Endpoints.CreateGateway.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let userID = try Parameters.uuidField(body.userId, "user_id")
        let settings = messaging
        guard let box = settings.secretBox else {
            throw APIError(
                .serviceUnavailable, code: "secret_key_missing",
                message: "no CREDITDESK_SECRET_KEY is configured, so credentials cannot be stored")
        }
        // The password is part of the body: fingerprint it hashed, so the stored idempotency
        // record holds nothing it could be read back from.
        var redacted = body
        redacted.password = Digest.hex(Digest.sha256(Array(body.password.utf8)))
        let provider: GatewayProvider = try body.provider.converted()
        let limits = try GatewayLimits.validated(
            maxConcurrency: body.maxConcurrency.map(Int64.init), maxMessagesPerSecond: body.maxMessagesPerSecond.map(Int64.init))
        let (gateway, replayed) = try await access.mutate(
            Components.Schemas.Gateway.self, input: redacted, status: .created
        ) { connection, principal, operation in
            let (gateway, token) = try MessagingOperations.createGateway(
                connection, principal, operation, accountID: id,
                input: .init(
                    provider: provider, name: body.name, baseURL: body.baseUrl, username: body.username,
                    password: body.password, sender: body.sender, homePrefix: body.homePrefix, userID: userID,
                    limits: limits),
                box: box)
            return Components.Schemas.Gateway(gateway, settings: settings, callbackToken: token)
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(gateway)))
    }

    func setGatewayLimits(_ input: Endpoints.SetGatewayLimits.Input) async throws -> Endpoints.SetGatewayLimits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let limits = try GatewayLimits.validated(
            maxConcurrency: Int64(body.maxConcurrency), maxMessagesPerSecond: body.maxMessagesPerSecond.map(Int64.init))
        let settings = messaging
        let (gateway, replayed) = try await access.mutate(Components.Schemas.Gateway.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Gateway(
                try MessagingOperations.setGatewayLimits(connection, principal, operation, gatewayID: id, limits: limits),
                settings: settings, callbackToken: nil)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(gateway)))
    }

    func setRate(_ input: Endpoints.SetRate.Input) async throws -> Endpoints.SetRate.Output {
        let id = input.path.id.uuid
        let prefix = input.path.prefix
        let body = switch input.body { case .json(let body): body }
        let (rate, replayed) = try await access.mutate(Components.Schemas.Rate.self, input: body) {
            connection, principal, operation in
            try MessagingOperations.setRate(
                connection, principal, operation, resellerID: id, prefix: prefix, creditsPerSegment: body.creditsPerSegment)
            return Components.Schemas.Rate(resellerId: id.objectID, prefix: prefix, creditsPerSegment: body.creditsPerSegment)
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(rate)))
    }

    func sendMessage(_ input: Endpoints.SendMessage.Input) async throws -> Endpoints.SendMessage.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body.value1 }
        let (message, replayed) = try await access.mutate(
            Components.Schemas.Message.self, input: body, status: .accepted
        ) { connection, principal, operation in
            Components.Schemas.Message(
                try MessagingOperations.send(
                    connection, principal, operation, accountID: id,
                    input: .init(to: body.to, text: body.text ?? "", mediaURLs: body.mediaUrls ?? [], sendAt: body.sendAt)))
        }
        return .accepted(.init(headers: .init(idempotentReplayed: replayed), body: .json(message)))
    }

    func listMessages(_ input: Endpoints.ListMessages.Input) async throws -> Endpoints.ListMessages.Output {
        let id = input.path.id.uuid
        let query = input.query
        let limit = try Parameters.limit(query.limit)
        let direction: MessageDirection? = try query.direction.converted()
        let status: MessageStatus? = try query.status.converted()
        let after = try Cursor.decodeKey(query.cursor, UUID.init(uuidString:))
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try MessagingOperations.messages(
                connection, principal, accountID: id, direction: direction, status: status, phone: query.phone,
                afterID: after, limit: limit + 1)
            return Components.Schemas.MessagePage(
                rows: rows, limit: limit, item: Components.Schemas.Message.init, cursor: { [$0.id.lower] })
        })))
    }

    func cancelMessage(_ input: Endpoints.CancelMessage.Input) async throws -> Endpoints.CancelMessage.Output {
        let id = input.path.id.uuid
        let (message, replayed) = try await access.mutate(Components.Schemas.Message.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.Message(try MessagingOperations.cancel(connection, principal, operation, messageID: id))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(message)))
    }

    func listOptOuts(_ input: Endpoints.ListOptOuts.Input) async throws -> Endpoints.ListOptOuts.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let after = try Cursor.decodeKey(input.query.cursor) { $0 }
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try MessagingOperations.optOuts(connection, principal, accountID: id, after: after, limit: limit + 1)
            return Components.Schemas.OptOutPage(
                rows: rows, limit: limit, item: { Components.Schemas.OptOut(phone: $0.phone, source: $0.source, createdAt: $0.createdAt) },
                cursor: { [$0.phone] })
        })))
    }

    func addOptOuts(_ input: Endpoints.AddOptOuts.Input) async throws -> Endpoints.AddOptOuts.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body.value1 }
        guard (body.phones == nil) != (body.listId == nil) else {
            throw APIError.badRequest(code: "invalid_field", "give either phones or list_id", details: ["field": "phones"])
        }
        let (batch, replayed) = try await access.mutate(Components.Schemas.OptOutBatch.self, input: body) {
            connection, principal, operation in
            if let listID = body.listId?.uuid {
                return Components.Schemas.OptOutBatch(
                    accountId: id.objectID,
                    phones: try ContactOperations.optOutList(connection, principal, operation, accountID: id, listID: listID))
            }
            return Components.Schemas.OptOutBatch(
                accountId: id.objectID,
                phones: try MessagingOperations.addOptOuts(connection, principal, operation, accountID: id, phones: body.phones ?? []))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(batch)))
    }

    func removeOptOut(_ input: Endpoints.RemoveOptOut.Input) async throws -> Endpoints.RemoveOptOut.Output {
        let id = input.path.id.uuid
        let phone = input.path.phone
        let (batch, replayed) = try await access.mutate(Components.Schemas.OptOutBatch.self, input: Optional<String>.none) {
            connection, principal, operation in
            try MessagingOperations.removeOptOut(connection, principal, operation, accountID: id, phone: phone)
            return Components.Schemas.OptOutBatch(accountId: id.objectID, phones: [phone])
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(batch)))
    }

    func getReplyRouting(_ input: Endpoints.GetReplyRouting.Input) async throws -> Endpoints.GetReplyRouting.Output {
        let id = input.path.id.uuid
        return .ok(.init(body: .json(try await access.read { connection, principal in
            Components.Schemas.ReplyRouting(try MessagingOperations.replyRouting(connection, principal, userID: id))
        })))
    }

    func setReplyRouting(_ input: Endpoints.SetReplyRouting.Input) async throws -> Endpoints.SetReplyRouting.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let channel: ReplyChannel = try body.channel.converted()
        let (routing, replayed) = try await access.mutate(Components.Schemas.ReplyRouting.self, input: body) {
            connection, principal, operation in
            Components.Schemas.ReplyRouting(
                try MessagingOperations.setReplyRouting(
                    connection, principal, operation, userID: id, channel: channel, mobile: body.mobile, email: body.email))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(routing)))
    }
}
