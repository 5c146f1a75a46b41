import CreditDeskContract
import CreditDeskCore
import CreditDeskServices
import CreditDeskStore
import Foundation

/// Reservations: hold credits for a send, then post or void them.
extension APIHandlers {
    func listReservations(_ input: Endpoints.ListReservations.Input) async throws -> Endpoints.ListReservations.Output {
        let id = input.path.id.uuid
        let limit = try Parameters.limit(input.query.limit)
        let status: ReservationStatus? = try input.query.status.converted()
        let batchID = input.query.batchId?.uuid
        let after = try Cursor.decodeKey(input.query.cursor, UUID.init(uuidString:))
        return .ok(.init(body: .json(try await access.read { connection, principal in
            let rows = try Operations.reservations(
                connection, principal, accountID: id, status: status, batchID: batchID, afterID: after, limit: limit + 1)
            return Components.Schemas.ReservationPage(
                rows: rows, limit: limit, item: Components.Schemas.Reservation.init, cursor: { [$0.id.lower] })
        })))
    }

    func reserveCredits(_ input: Endpoints.ReserveCredits.Input) async throws -> Endpoints.ReserveCredits.Output {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        let (reservation, replayed) = try await access.mutate(
            Components.Schemas.Reservation.self, input: body, status: .created
        ) { connection, principal, operation in
            Components.Schemas.Reservation(
                try Operations.reserve(
                    connection, principal, operation, accountID: id, unit: unit, amount: body.amount,
                    reference: body.reference))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(reservation)))
    }

    func reserveCreditsInBulk(_ input: Endpoints.ReserveCreditsInBulk.Input) async throws
        -> Endpoints.ReserveCreditsInBulk.Output
    {
        let id = input.path.id.uuid
        let body = switch input.body { case .json(let body): body }
        let unit: CreditUnit = try body.unit.converted()
        // A bulk request holds megabytes transiently; hand the freed pages back afterwards.
        defer { Memory.releaseFreedPages() }
        let (batch, replayed) = try await access.mutate(
            Components.Schemas.ReservationBatch.self, input: body, fingerprint: Self.fingerprint(body), status: .created
        ) { connection, principal, operation in
            Components.Schemas.ReservationBatch(
                try Operations.reserveBatch(
                    connection, principal, operation, accountID: id, unit: unit,
                    items: body.items.map { ($0.amount, $0.reference) }))
        }
        return .created(.init(headers: .init(idempotentReplayed: replayed), body: .json(batch)))
    }

    /// A bulk request's fingerprint input, built from the decoded values: as insensitive to key
    /// order and white space as canonical JSON, and cheaper to build for 100,000 items.
    static func fingerprint(_ batch: Components.Schemas.ReserveBatch) -> [UInt8] {
        var bytes = Array("bulk \(batch.unit.rawValue) \(batch.items.count)\n".utf8)
        bytes.reserveCapacity(batch.items.count * 32)
        for item in batch.items {
            bytes += "\(item.amount)\t".utf8
            // A reference is printed with its length so that no text can forge a boundary.
            if let reference = item.reference { bytes += "\(reference.utf8.count):\(reference)".utf8 }
            bytes.append(0x0A)
        }
        return bytes
    }

    func postReservation(_ input: Endpoints.PostReservation.Input) async throws -> Endpoints.PostReservation.Output {
        let id = input.path.id.uuid
        let body = input.body.map { switch $0 { case .json(let body): body } } ?? .init()
        let (reservation, replayed) = try await access.mutate(Components.Schemas.Reservation.self, input: body) {
            connection, principal, operation in
            Components.Schemas.Reservation(try Operations.post(connection, principal, operation, reservationID: id, amount: body.amount))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(reservation)))
    }

    func voidReservation(_ input: Endpoints.VoidReservation.Input) async throws -> Endpoints.VoidReservation.Output {
        let id = input.path.id.uuid
        let (reservation, replayed) = try await access.mutate(Components.Schemas.Reservation.self, input: Optional<String>.none) {
            connection, principal, operation in
            Components.Schemas.Reservation(try Operations.void(connection, principal, operation, reservationID: id))
        }
        return .ok(.init(headers: .init(idempotentReplayed: replayed), body: .json(reservation)))
    }
}
