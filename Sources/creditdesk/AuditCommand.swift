import ArgumentParser
import CreditDesk
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Export the audit log of an account and its subtree (who changed what) as CSV or JSON Lines.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: "Account id: its log and its subtree's.") var account: String
    @Option(help: "Only this action, e.g. account.suspended or key.revoked.") var action: String?
    @Option(name: .customLong("by"), help: "Only changes made by this user id.") var byUser: String?
    @Option(help: "Only changes to this object id.") var object: String?
    @Option(help: "From this time, RFC 3339 (inclusive).") var from: String?
    @Option(help: "Until this time, RFC 3339 (exclusive).") var to: String?
    @Option(help: "csv or jsonl.") var format = "csv"
    @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

    func run() async throws {
        guard let root = UUID(uuidString: account) else { throw ValidationError("--account must be a UUID") }
        guard ["csv", "jsonl"].contains(format) else { throw ValidationError("--format is csv or jsonl") }
        let user = try byUser.map { text in
            guard let id = UUID(uuidString: text) else { throw ValidationError("--by must be a user id (UUID)") }
            return id
        }
        let (start, end) = (try Self.time(from, "--from"), try Self.time(to, "--to"))
        let sink = try OutputFile.open(output)
        let progress = Progress(enabled: isatty(STDERR_FILENO) == 1)
        try await AdminSession.read(database, actor) { session in
            let rows = try await session.exportAudit(
                of: root, action: action, actor: user, object: object, from: start, to: end, jsonLines: format == "jsonl"
            ) { chunk in
                sink.write(Data(chunk.utf8))
            }
            progress.finish(rows)
        }
        if output != nil { try sink.close() }
    }

    static func time(_ text: String?, _ option: String) throws -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
            throw ValidationError("\(option) must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
        }
        return date
    }
}

/// Where an export goes: a new file, or standard output.
enum OutputFile {
    static func open(_ path: String?) throws -> FileHandle {
        guard let path else { return FileHandle.standardOutput }
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw ValidationError("cannot write \(path)") }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }
}
