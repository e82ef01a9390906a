// A Swiftlet broker inside a Swift process, for tests: in memory or in a directory, on a port
// the system picks, started and stopped by the test. Kafka clients connect to
// `bootstrapServers` as to any broker (as franz-go's kfake and Testcontainers are used).

import Broker
import Logging
import Reactor
import Synchronization
import SystemCalls

public final class EmbeddedBroker: Sendable {
    public enum Storage: Sendable {
        /// Everything in memory: nothing is written, nothing survives `stop`.
        case memory
        /// A fresh directory under /tmp, removed by `stop`.
        case temporaryDirectory
        /// A directory of the caller's, kept: a later broker on it recovers what was there.
        case directory(String)
    }

    public let broker: Broker
    private let server: Server
    private let temporaryDirectory: String?
    private let stopped = Atomic(false)

    /// "127.0.0.1:PORT", what clients bootstrap from.
    public let bootstrapServers: String

    /// Starts a broker on 127.0.0.1 and a free port, ready when this returns (logs recovered,
    /// coordinators replayed, seed topics made). `configure` changes any setting first.
    public init(
        _ storage: Storage = .memory, configure: (inout BrokerConfiguration) -> Void = { _ in },
        logger: Logger = Logger(label: "swiftlet", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        var configuration = BrokerConfiguration()
        configuration.listeners = [.plaintext(SocketAddress("127.0.0.1:0")!)]
        configuration.eventLoops = 1
        switch storage {
        case .memory:
            configuration.dataDirectory = nil
            temporaryDirectory = nil
        case .temporaryDirectory:
            let directory = try System.makeTemporaryDirectory(prefix: "swiftlet-embedded-")
            configuration.dataDirectory = directory
            temporaryDirectory = directory
        case .directory(let path):
            configuration.dataDirectory = path
            temporaryDirectory = nil
        }
        configure(&configuration)
        try configuration.resolveListeners()
        broker = try Broker(configuration: configuration, logger: logger)
        server = try broker.serve(handlesSignals: false)
        bootstrapServers = server.boundAddresses.prefix(configuration.listeners.count).map(\.description).joined(separator: ",")
    }

    /// As `init`, for async tests.
    public static func start(
        _ storage: Storage = .memory, configure: (inout BrokerConfiguration) -> Void = { _ in },
        logger: Logger = Logger(label: "swiftlet", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> EmbeddedBroker {
        try EmbeddedBroker(storage, configure: configure, logger: logger)
    }

    /// Creates a topic, as CreateTopics would; an existing one is an error.
    public func createTopic(_ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) throws {
        try broker.createTopic(name: name, partitions: partitions, configs: configs)
    }

    /// Stops serving, flushes the logs, and removes a temporary directory. Idempotent.
    public func stop() throws { try stopNow() }

    /// As `stop`, for async tests.
    public func stop() async throws { try stopNow() }

    private func stopNow() throws {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        server.shutdown()
        server.waitUntilStopped()
        defer { if let temporaryDirectory { try? System.removeTree(temporaryDirectory) } }
        try broker.shutdown()
    }

    deinit { try? stopNow() }
}
