import ArgumentParser
import CreditDesk
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Usage reports for billing.", subcommands: [Usage.self])

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export usage as CSV or JSON Lines, streamed in constant memory.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Account id (the report covers it, its children or its descendants).") var account: String
        @Option(help: "First day, YYYY-MM-DD (inclusive).") var from: String
        @Option(help: "Last day, YYYY-MM-DD (exclusive).") var to: String
        @Option(help: "IANA time zone that cuts the days.") var tz = "UTC"
        @Option(help: "account, children or descendants.") var scope = "account"
        @Option(help: "day or month.") var group = "day"
        @Option(help: "daily (one row per account, period and unit) or entries (one row per entry).") var detail = "daily"
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() async throws {
            guard let root = UUID(uuidString: account) else { throw ValidationError("--account must be a UUID") }
            guard let scope = UsageScope(rawValue: scope), let grouping = UsageGrouping(rawValue: group),
                ["daily", "entries"].contains(detail), ["csv", "jsonl"].contains(format)
            else { throw ValidationError("check --scope, --group, --detail and --format (see --help)") }
            let sink = try OutputFile.open(output)
            let progress = Progress(enabled: isatty(STDERR_FILENO) == 1)
            try await AdminSession.read(database, actor) { session in
                let rows = try await session.exportUsage(
                    of: root, from: from, to: to, scope: scope, grouping: grouping, timeZone: tz,
                    entries: detail == "entries", jsonLines: format == "jsonl"
                ) { chunk, count in
                    sink.write(Data(chunk.utf8))
                    progress.add(count)
                }
                progress.finish(rows)
            }
            if output != nil { try sink.close() }
        }
    }
}

/// "rows written, rate" on one refreshed stderr line, only when stderr is a terminal.
final class Progress: @unchecked Sendable {
    let enabled: Bool
    let start = Date()
    var rows = 0
    var lastDraw = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func add(_ count: Int) {
        rows += count
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        draw(final: false)
    }

    func finish(_ total: Int) {
        rows = total
        if enabled { draw(final: true) }
    }

    private func draw(final: Bool) {
        let seconds = max(Date().timeIntervalSince(start), 0.001)
        let line = "\r\(rows) rows written, \(Int(Double(rows) / seconds)) rows/s" + (final ? "\n" : "")
        FileHandle.standardError.write(Data(line.utf8))
    }
}
