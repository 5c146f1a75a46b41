// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "CreditDesk",
    platforms: [.macOS(.v14)],
    products: [
        // The library other Swift servers embed: a small public API over the services.
        .library(name: "CreditDesk", targets: ["CreditDesk"]),
        .executable(name: "creditdesk", targets: ["creditdesk"]),
        .executable(name: "creditdesk-bench", targets: ["creditdesk-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", exact: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", exact: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", exact: "2.1.0"),
        // `swift package generate-documentation --target CreditDesk` (the library's DocC catalog).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", exact: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", exact: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", exact: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // libpq, found through pkg-config (Debian: libpq-dev).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // libcrypto (Debian: libssl-dev): SHA-256, AES-GCM, secure random bytes.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libcurl (Debian: libcurl4-openssl-dev): outbound HTTP to gateways, and the load generator.
        .systemLibrary(
            name: "CLibCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Domain types and rules. No I/O: the part every other module trusts.
        .target(
            name: "CreditDeskCore",
            dependencies: ["CLibCrypto"],
            swiftSettings: swiftSettings
        ),
        // libpq connection, pool, transactions, migrator (with sql/ compiled in), embedded
        // cluster. Knows no domain.
        .target(
            name: "CreditDeskDB",
            dependencies: [
                "CLibPQ",
                "CreditDeskCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedMigrations"]
        ),
        // The schema migrations (sql/*.sql), byte for byte, at build time.
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["creditdesk-text-embed"]),
        .executableTarget(name: "creditdesk-text-embed", swiftSettings: swiftSettings),
        // The console's templates, stylesheet and script, at build time.
        .plugin(name: "EmbedTemplates", capability: .buildTool(), dependencies: ["creditdesk-text-embed"]),
        // SQL only: one store per table family, named statements, records.
        .target(
            name: "CreditDeskStore",
            dependencies: ["CreditDeskCore", "CreditDeskDB"],
            swiftSettings: swiftSettings
        ),
        // Every operation: authorization, idempotency, ledger moves, messaging, the dispatcher.
        .target(
            name: "CreditDeskServices",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskGateway",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The public library: open a database, act as a principal, call the operations with
        // typed inputs, results and errors. Everything below it is `package`.
        .target(
            name: "CreditDesk",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskServices",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web console: server-rendered pages (Mustache templates compiled in) over the
        // same services, sign-in with passwords and sessions, CSRF-checked idempotent forms.
        .target(
            name: "CreditDeskConsole",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskServices",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            exclude: ["Templates"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedTemplates"]
        ),
        // HTTP only: the generated server's handlers, middleware, error mapping, calling the services.
        .target(
            name: "CreditDeskAPI",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskServices",
                "CreditDeskGateway",
                "CreditDeskContract",
                "CreditDeskConsole",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The contract, openapi.yaml: the types, the handler protocol and a typed client that
        // swift-openapi-generator derives from it, and the document itself as JSON.
        .target(
            name: "CreditDeskContract",
            dependencies: ["CreditDeskCore", .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            plugins: [
                .plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator"),
                "EmbedOpenAPI",
            ]
        ),
        // The contract (openapi.yaml) as JSON, at build time.
        .plugin(name: "EmbedOpenAPI", capability: .buildTool(), dependencies: ["creditdesk-openapi-embed"]),
        .executableTarget(
            name: "creditdesk-openapi-embed",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Outbound HTTP (libcurl, blocking, one handle per thread) and the SMS/MMS gateway clients.
        .target(
            name: "CreditDeskGateway",
            dependencies: ["CLibCurl", "CreditDeskCore"],
            swiftSettings: swiftSettings
        ),
        // Load generator and fault injector for `make bench` and `make chaos`.
        .executableTarget(
            name: "creditdesk-bench",
            dependencies: [
                "CreditDeskGateway",
                "CreditDeskTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "creditdesk",
            dependencies: [
                "CreditDesk",
                "CreditDeskCore",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskServices",
                "CreditDeskAPI",
                "CreditDeskGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets: the throwaway PostgreSQL cluster and per-test databases.
        .target(
            name: "CreditDeskTestSupport",
            dependencies: [
                "CreditDeskDB",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskCoreTests",
            dependencies: ["CreditDeskCore", "CreditDeskTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskPostgresTests",
            dependencies: [
                "CreditDeskDB", "CreditDeskStore", "CreditDeskServices", "CreditDeskCore", "CreditDeskTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskLibraryTests",
            dependencies: ["CreditDesk", "CreditDeskCore", "CreditDeskDB", "CreditDeskStore", "CreditDeskTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskAPITests",
            dependencies: [
                "CreditDeskAPI",
                "CreditDeskConsole",
                "CreditDeskContract",
                "CreditDeskGateway",
                "CreditDeskDB",
                "CreditDeskStore",
                "CreditDeskServices",
                "CreditDeskCore",
                "CreditDeskTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
