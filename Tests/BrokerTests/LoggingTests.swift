// The broker logs through the swift-log Logger it is given, at the level each line deserves:
// a host application or a test sees topic administration at info, refused clients at
// warning, and connections, rebalances and transaction states at debug only.

import KafkaProtocol
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Broker

/// Keeps every line a Logger gives it, with its level.
final class CollectedLogs: Sendable {
    let lines = Mutex<[(Logger.Level, String)]>([])

    func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "tests") { _ in Handler(logs: self) }
        logger.logLevel = level
        return logger
    }

    func contains(_ level: Logger.Level, _ text: String) -> Bool {
        lines.withLock { $0.contains { $0.0 == level && $0.1.contains(text) } }
    }

    struct Handler: LogHandler {
        let logs: CollectedLogs
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { logs.lines.withLock { $0.append((event.level, event.message.description)) } }
    }
}

@Suite struct LoggingTests {
    @Test func linesGoToTheGivenLoggerAtTheirLevels() throws {
        let logs = CollectedLogs()
        try withBroker(logger: logs.logger(level: .debug)) { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "logged", numPartitions: 2, replicationFactor: 1)]), version: 5)
            let join = JoinGroupRequest(
                groupId: "logged-group", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                protocols: [.init(name: "range", metadata: [])])
            let unknown = try client.send(join, version: 5)
            let joined = try client.send(
                JoinGroupRequest(
                    groupId: "logged-group", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: unknown.memberId,
                    protocolType: "consumer", protocols: [.init(name: "range", metadata: [])]), version: 5)
            _ = try client.send(
                SyncGroupRequest(
                    groupId: "logged-group", generationId: joined.generationId, memberId: joined.memberId,
                    assignments: [.init(memberId: joined.memberId, assignment: [])]), version: 3)
            // A frame no request has: refused, logged as a warning.
            let bad = try KafkaTestClient(address)
            try bad.connection.send([0x7f, 0xff, 0xff, 0xff])
            #expect(try bad.connection.waitForClose())
        }
        #expect(logs.contains(.info, "created topic logged with 2 partition(s)"))
        #expect(logs.contains(.debug, "group logged-group: stable at generation 1"))
        #expect(logs.contains(.debug, "on listener PLAINTEXT: connected"))
        #expect(logs.contains(.warning, "invalid request size 2147483647"))

        // At info, the debug lines are not even formatted.
        let quiet = CollectedLogs()
        try withBroker(logger: quiet.logger(level: .info)) { _, address in _ = try KafkaTestClient(address) }
        #expect(!quiet.lines.withLock { $0.contains { $0.0 == .debug } })
    }
}
