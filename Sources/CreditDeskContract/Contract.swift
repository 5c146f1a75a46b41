package import CreditDeskCore
package import Foundation
package import OpenAPIRuntime

// The contract's generated code (Types, Server, Client) comes from openapi.yaml at build time;
// see docs/ARCHITECTURE.md, "The contract". This file holds what the generated code is told to
// use instead of its defaults.

/// An object id: a UUID on the wire, written in lower case. Decoding refuses anything that is
/// not a UUID, so a malformed id in a path or a body is a 400 before any handler runs.
/// (`Foundation.UUID` itself would encode in upper case.)
package struct ObjectID: Codable, Hashable, Sendable, CustomStringConvertible {
    package let uuid: UUID

    package init(_ uuid: UUID) { self.uuid = uuid }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let uuid = UUID(uuidString: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UUID")
        }
        self.uuid = uuid
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    package var description: String { uuid.uuidString.lowercased() }
}

extension UUID {
    package var objectID: ObjectID { ObjectID(self) }
}

/// Times as RFC 3339 with milliseconds on output; any RFC 3339 form on input.
package struct RFC3339DateTranscoder: DateTranscoder {
    package init() {}

    package func encode(_ date: Date) throws -> String { ISO8601.format(date) }

    package func decode(_ text: String) throws -> Date {
        guard let date = ISO8601.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not an RFC 3339 timestamp"))
        }
        return date
    }
}

extension Configuration {
    /// What both ends of the contract use: compact JSON with sorted keys, RFC 3339 times.
    package static let creditDesk = Configuration(
        dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
}
