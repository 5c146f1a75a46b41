import Foundation
import PackagePlugin

/// Turns the package's `sql/NNNN_name.sql` migrations into `BundledMigrations.swift`: each
/// file's exact text in a string constant, so the library and the binaries carry their schema
/// and need no files beside them.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "sql")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
            .map { directory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "BundledMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations",
                executable: try context.tool(named: "creditdesk-text-embed").url,
                arguments: [output.path, "BundledMigrations"] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
