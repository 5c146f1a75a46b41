import Foundation
import PackagePlugin

/// Turns the files in the target's `Templates/` folder (Mustache templates, the stylesheet,
/// the script) into `BundledTemplates.swift`, so the console needs no files beside the binary.
@main
struct EmbedTemplates: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        guard let module = target.sourceModule else { return [] }
        let directory = module.directoryURL.appending(path: "Templates")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { !$0.hasPrefix(".") }.sorted()
            .map { directory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "BundledTemplates.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) console templates",
                executable: try context.tool(named: "creditdesk-text-embed").url,
                arguments: [output.path, "BundledTemplates"] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
