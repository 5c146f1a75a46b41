import Foundation

// Build tool of the EmbedMigrations plugin: writes a Swift file holding each migration file's
// name and exact text (the migrator checksums the text, so not a byte may change).
let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: creditdesk-sql-embed Output.swift FILE.sql…\n".utf8))
    exit(2)
}

/// A raw string literal of `text`, with enough `#`s that nothing inside can end it.
func rawLiteral(_ text: String) -> String {
    var hashes = "#"
    while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    return "\(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes)"
}

do {
    var entries = [String]()
    for path in arguments.dropFirst(2) {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let text = try String(contentsOfFile: path, encoding: .utf8)
        entries.append("        (\"\(name)\", \(rawLiteral(text))),")
    }
    let swift = """
        // Generated from sql/*.sql by the EmbedMigrations build plugin. Do not edit.
        package enum BundledMigrations {
            /// Each migration's file name and text, in version order.
            package static let files: [(name: String, sql: String)] = [
        \(entries.joined(separator: "\n"))
            ]
        }

        """
    try swift.write(toFile: arguments[1], atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("creditdesk-sql-embed: \(error)\n".utf8))
    exit(1)
}
