import CreditDeskContract
import NIOCore

/// A single-pass reader for the one large body of the API, a bulk reservation
/// (`{"unit": …, "items": [{"amount": …, "reference": …}, …]}`, up to 100,000 items). The
/// generated server decodes it through Foundation's JSONDecoder, which spent about two thirds
/// of a 100,000-item request (the checks for unknown properties alone a quarter).
///
/// It accepts only the plain form of a valid body: exactly the contract's keys, each once; an
/// amount of 1 to 1,000,000,000 in plain digits; references without escapes or control
/// characters, in valid UTF-8. Anything else, valid or not, answers nil and the request takes
/// the generated path, which decodes it (escapes, `null`, …) or refuses it with the contract's
/// errors. So this reader never decides what is valid, and never answers differently.
enum BulkReservationBody {
    static func parse(_ buffer: ByteBuffer) -> Components.Schemas.ReserveBatch? {
        buffer.withUnsafeReadableBytes { raw in
            var reader = Reader(bytes: raw.bindMemory(to: UInt8.self))
            return reader.batch()
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func batch() -> Components.Schemas.ReserveBatch? {
            var unit: Components.Schemas.CreditUnit?
            var items: [Components.Schemas.ReserveBatch.ItemsPayloadPayload]?
            guard object({ reader, key in
                switch key {
                case "unit" where unit == nil:
                    guard let text = reader.string(), let value = Components.Schemas.CreditUnit(rawValue: text) else { return false }
                    unit = value
                case "items" where items == nil:
                    items = reader.items()
                    return items != nil
                default: return false
                }
                return true
            }), let unit, let items else { return nil }
            skipSpace()
            return index == bytes.count ? Components.Schemas.ReserveBatch(unit: unit, items: items) : nil
        }

        mutating func items() -> [Components.Schemas.ReserveBatch.ItemsPayloadPayload]? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var items: [Components.Schemas.ReserveBatch.ItemsPayloadPayload] = []
            items.reserveCapacity(min(100_001, bytes.count / 12))  // an item is at least {"amount":1}
            if take(UInt8(ascii: "]")) { return items }
            repeat {
                var amount: Int64?
                var reference: String?
                var sawReference = false
                guard object({ reader, key in
                    switch key {
                    case "amount" where amount == nil:
                        amount = reader.amount()
                        return amount != nil
                    case "reference" where !sawReference:
                        sawReference = true
                        reference = reader.string()
                        return reference != nil
                    default: return false
                    }
                }), let amount else { return nil }
                items.append(.init(amount: amount, reference: reference))
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]")) ? items : nil
        }

        /// `{ "key": value, … }`, each value read by `member`; false from it stops the read.
        mutating func object(_ member: (inout Reader, String) -> Bool) -> Bool {
            guard take(UInt8(ascii: "{")) else { return false }
            if take(UInt8(ascii: "}")) { return true }
            repeat {
                guard let key = string(), take(UInt8(ascii: ":")) else { return false }
                skipSpace()
                guard member(&self, key) else { return false }
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}"))
        }

        /// A string without escapes or control characters, in valid UTF-8.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }

        /// 1 to 1,000,000,000 in plain digits, no leading zero.
        mutating func amount() -> Int64? {
            var value: Int64 = 0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]), index - start < 10 {
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard index > start, bytes[start] != UInt8(ascii: "0"), (1...1_000_000_000).contains(value) else { return nil }
            if index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "}"),
                !Self.isSpace(bytes[index])
            {
                return nil  // a fraction, an exponent, more digits
            }
            return value
        }

        /// Skips white space, then takes `byte` if it is next.
        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpace() {
            while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        }

        static func isSpace(_ byte: UInt8) -> Bool {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: true
            default: false
            }
        }
    }
}
