// swift-tools-version:6.1
import Foundation
import PackageDescription

// A server of your own that embeds CreditDesk, here by path. From a registry or a Git URL it
// would be `.package(url: "https://github.com/…/creditdesk.git", from: "…")`. A path
// dependency is named after its directory, so the product's package name is computed.
let creditDesk = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL

let package = Package(
    name: "EmbeddedLedger",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: creditDesk.path)],
    targets: [
        .executableTarget(
            name: "EmbeddedLedger",
            dependencies: [.product(name: "CreditDesk", package: creditDesk.lastPathComponent)]
        )
    ]
)
