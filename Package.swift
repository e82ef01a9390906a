// swift-tools-version:6.0
// Swiftlet: a Kafka wire-protocol compatible broker. Module layering follows DESIGN.md:
// KafkaWire <- KafkaRecords <- KafkaProtocol; KafkaCodegen writes KafkaProtocol/Generated.
// Linux only: the reactor is epoll (SwiftPM's `platforms` names Apple systems alone, so
// SystemCalls says so with a compile-time #error elsewhere).
import PackageDescription

let package = Package(
    name: "Swiftlet",
    products: [
        .library(name: "KafkaWire", targets: ["KafkaWire"]),
        .library(name: "KafkaRecords", targets: ["KafkaRecords"]),
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        // A broker inside a Swift process, for other projects' tests.
        .library(name: "SwiftletEmbedded", targets: ["SwiftletEmbedded"]),
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .executable(name: "kafka-codegen", targets: ["KafkaCodegen"]),
        .executable(name: "decoder-fuzzer", targets: ["DecoderFuzzer"]),
        .executable(name: "codec-bench", targets: ["CodecBench"]),
        .executable(name: "reactor-bench", targets: ["ReactorBench"]),
        .executable(name: "storage-bench", targets: ["StorageBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Logging only (no Foundation): host applications and tests route the broker's logs.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // System libraries for the four Kafka compression codecs (Debian -dev packages), linked
        // from their static archives (the modulemaps name them) so the binary needs none.
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CSnappy", path: "Sources/CSnappy",
            providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(
            name: "CLZ4", path: "Sources/CLZ4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd",
            providers: [.apt(["libzstd-dev"])]),
        // OpenSSL 3 (libssl-dev): the SASL mechanisms' hashes, HMAC and PBKDF2, and TLS.
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        // CRC32C with the SSE4.2 crc32 instruction where the CPU has it.
        .target(name: "CCRC32C", path: "Sources/CCRC32C"),

        .target(name: "CSystemShims", path: "Sources/CSystemShims"),
        .target(name: "SystemCalls", dependencies: ["CSystemShims"]),
        .target(name: "Reactor", dependencies: ["SystemCalls", "COpenSSL"]),
        .target(name: "KafkaWire"),
        .target(
            name: "KafkaRecords",
            dependencies: ["KafkaWire", "CCRC32C", "CZlib", "CSnappy", "CLZ4", "CZstd"]),
        .target(name: "KafkaProtocol", dependencies: ["KafkaWire"]),
        .target(name: "LogStorage", dependencies: ["SystemCalls", "KafkaRecords", "KafkaWire"]),
        .target(
            name: "Coordinators",
            dependencies: ["KafkaProtocol", "KafkaWire", "SystemCalls", .product(name: "Logging", package: "swift-log")]),
        // A blocking Kafka client on the generated codecs, for the command line.
        .target(name: "KafkaClient", dependencies: ["KafkaProtocol", "KafkaRecords", "KafkaWire", "SystemCalls"]),
        // SASL mechanisms sans IO (PLAIN, SCRAM, OAUTHBEARER) and the crypto they need.
        .target(name: "Security", dependencies: ["COpenSSL"]),
        .target(
            name: "Broker",
            dependencies: [
                "Coordinators", "KafkaClient", "KafkaProtocol", "KafkaRecords", "KafkaWire", "LogStorage", "Reactor", "Security",
                "SystemCalls", .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "Broker", "KafkaClient", "KafkaProtocol", "KafkaRecords", "LogStorage", "Reactor", "SystemCalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // A portable binary: the Swift runtime and Foundation linked in, as the codec
            // libraries are (their modulemaps name the static archives), so `ldd` lists libc,
            // libm, libstdc++, libgcc and OpenSSL only.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib", "-l_FoundationCShims", "-l_FoundationCollections"], .when(configuration: .release))
            ]),
        .target(
            name: "SwiftletEmbedded",
            dependencies: ["Broker", "Reactor", "SystemCalls", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "KafkaCodegen", path: "Sources/KafkaCodegen"),

        // libFuzzer target for the request decoder and the batch parser (README: Fuzzing).
        .executableTarget(
            name: "DecoderFuzzer", dependencies: ["KafkaProtocol", "KafkaRecords"],
            path: "Tests/Fuzz"),
        // Release-mode benchmark of the protocol layer (README: Performance).
        .executableTarget(
            name: "CodecBench", dependencies: ["KafkaProtocol", "KafkaRecords", "KafkaWire"],
            path: "Interop/bench/codec"),
        // Release-mode benchmark of the network core (README: Performance).
        .executableTarget(
            name: "ReactorBench", dependencies: ["Reactor", "SystemCalls"],
            path: "Interop/bench/reactor"),
        // Release-mode benchmark of the log (README: Performance).
        .executableTarget(
            name: "StorageBench", dependencies: ["LogStorage", "KafkaRecords", "SystemCalls"],
            path: "Interop/bench/storage"),
        // Helpers shared by test targets: input mutation for the "never trap" tests and a
        // plain socket client for tests against a live server.
        .target(name: "TestSupport", dependencies: ["SystemCalls"], path: "Tests/TestSupport"),
        .testTarget(name: "SystemCallsTests", dependencies: ["SystemCalls"]),
        .testTarget(
            name: "ReactorTests", dependencies: ["Reactor", "SystemCalls", "TestSupport", "COpenSSL"],
            exclude: ["many_clients.py"]),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker", "KafkaProtocol", "KafkaRecords", "KafkaWire", "LogStorage", "Reactor", "Security", "SwiftletEmbedded",
                "SystemCalls", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "CoordinatorsTests", dependencies: ["Coordinators", "KafkaProtocol", "KafkaWire"]),
        .testTarget(name: "KafkaWireTests", dependencies: ["KafkaWire"]),
        .testTarget(name: "LogStorageTests", dependencies: ["LogStorage", "KafkaRecords", "SystemCalls", "TestSupport"]),
        .testTarget(name: "KafkaRecordsTests", dependencies: ["KafkaRecords", "KafkaWire", "TestSupport"]),
        .testTarget(name: "KafkaProtocolTests", dependencies: ["KafkaProtocol", "KafkaRecords", "KafkaWire", "TestSupport"]),
        .testTarget(name: "KafkaCodegenTests", dependencies: ["KafkaCodegen"]),
        .testTarget(name: "SecurityTests", dependencies: ["Security"]),
        .testTarget(name: "SwiftletTests", dependencies: ["swiftlet", "Broker"]),
        .testTarget(name: "KafkaClientTests", dependencies: ["KafkaClient", "KafkaProtocol", "KafkaRecords"]),
        .testTarget(name: "SwiftletEmbeddedTests", dependencies: ["SwiftletEmbedded", "KafkaClient", "KafkaProtocol", "SystemCalls"]),
    ],
    swiftLanguageModes: [.v6]
)
