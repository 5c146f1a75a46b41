import Foundation
import PackagePlugin

/// Turns the target's `openapi.yaml` into `OpenAPIDocument.swift`: the contract as JSON in a
/// string constant, so the binary serves `GET /openapi.json` without files beside it.
@main
struct EmbedOpenAPI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        guard let source = target.sourceModule?.sourceFiles.first(where: { $0.url.lastPathComponent == "openapi.yaml" })
        else { return [] }
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocument.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(source.url.lastPathComponent) as JSON",
                executable: try context.tool(named: "creditdesk-openapi-embed").url,
                arguments: [source.url.path, output.path],
                inputFiles: [source.url],
                outputFiles: [output])
        ]
    }
}
