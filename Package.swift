// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Reception",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reception", targets: ["reception"]),
        .executable(name: "receptiond", targets: ["receptiond"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // libpq, from Debian's libpq-dev.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Our Swift wrapper over libpq. Knows nothing of refugees.
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A durable PostgreSQL job queue and its worker. Generic: knows nothing of refugees.
        .target(
            name: "JobQueue",
            dependencies: [
                "Postgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The placement engine. Pure Swift: no database, no I/O. Optimized even in debug
        // builds: it is hot numeric code, and an unoptimized solver makes the demo and the
        // tests wait for nothing.
        .target(
            name: "Placement",
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The reception domain and its persistence, shared by both executables.
        .target(
            name: "ReceptionKit",
            dependencies: [
                "Postgres",
                "JobQueue",
                "Placement",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "reception",
            dependencies: [
                "ReceptionKit",
                "Placement",
                "Postgres",
                "JobQueue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "receptiond",
            dependencies: [
                "ReceptionKit",
                "JobQueue",
                "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Scratch databases for the test suites, on the server that scripts/test starts.
        .target(name: "TestSupport", dependencies: ["Postgres", "Placement"], path: "Tests/TestSupport"),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "JobQueueTests", dependencies: [
            "JobQueue", "Postgres", "ReceptionKit", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "PlacementTests", dependencies: ["Placement"]),
        .testTarget(name: "ReceptionKitTests", dependencies: [
            "ReceptionKit", "Postgres", "Placement", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
