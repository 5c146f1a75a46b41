// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "CreditDesk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "creditdesk", targets: ["creditdesk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    ],
    targets: [
        // libpq, found through pkg-config (Debian: libpq-dev).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Domain types and rules. No I/O: the part every other module trusts.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "CreditDeskCore",
            dependencies: ["CLibCrypto"],
            swiftSettings: swiftSettings
        ),
        // libpq connection, pool, transactions, migrations, embedded cluster, stores.
        .target(
            name: "CreditDeskPostgres",
            dependencies: [
                "CLibPQ",
                "CreditDeskCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP: routes, request contexts, DTOs, error mapping.
        .target(
            name: "CreditDeskAPI",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "creditdesk",
            dependencies: [
                "CreditDeskCore",
                "CreditDeskPostgres",
                "CreditDeskAPI",
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
                "CreditDeskPostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskCoreTests",
            dependencies: ["CreditDeskCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskPostgresTests",
            dependencies: ["CreditDeskPostgres", "CreditDeskCore", "CreditDeskTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CreditDeskAPITests",
            dependencies: [
                "CreditDeskAPI",
                "CreditDeskPostgres",
                "CreditDeskCore",
                "CreditDeskTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
