import Foundation
import Yams

// Build tool of the EmbedOpenAPI plugin: reads the OpenAPI contract (YAML) and writes a Swift
// file holding it as compact JSON with sorted keys: `enum OpenAPIDocument { static let json }`.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: creditdesk-openapi-embed openapi.yaml Output.swift\n".utf8))
    exit(2)
}
do {
    let yaml = try String(contentsOfFile: arguments[1], encoding: .utf8)
    guard let document = try Yams.load(yaml: yaml), JSONSerialization.isValidJSONObject(document) else {
        throw CocoaError(.fileReadCorruptFile)
    }
    let json = String(
        decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]),
        as: UTF8.self)
    guard !json.contains("\"###") else { throw CocoaError(.fileWriteInvalidFileName) }
    let swift = """
        // Generated from openapi.yaml by the EmbedOpenAPI build plugin. Do not edit.
        package enum OpenAPIDocument {
            package static let json = ###"\(json)"###
        }

        """
    try swift.write(toFile: arguments[2], atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("creditdesk-openapi-embed: \(error)\n".utf8))
    exit(1)
}
