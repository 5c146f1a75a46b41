import Foundation

/// RFC 3339 timestamps in UTC with milliseconds: what the API emits and accepts.
package enum ISO8601 {
    package static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted))
    }

    /// Any RFC 3339 timestamp (with or without a fraction, `Z` or an offset).
    package static func parse(_ text: String) -> Date? { RequestParsing.timestamp(text) }
}
