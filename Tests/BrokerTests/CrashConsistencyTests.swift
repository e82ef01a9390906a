// What a stop in the middle of topic administration leaves, and how the next start reads
// it: the registry is the intent (a registered topic's missing partitions are created, a
// directory no topic owns is removed unread), a damaged topics.json is recovered from its
// previous version and the partition directories.

import KafkaWire
import LogStorage
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct CrashConsistencyTests {
    func configuration(_ directory: TemporaryDirectory) -> BrokerConfiguration {
        var configuration = BrokerConfiguration()
        configuration.dataDirectory = directory.path + "/data"
        return configuration
    }

    @Test func theNextStartCompletesCreationsAndSweepsWhatNoTopicOwns() throws {
        let directory = TemporaryDirectory()
        let logs = directory.path + "/data/logs"
        do {
            let broker = try Broker(configuration: configuration(directory))
            _ = try broker.createTopic(name: "created", partitions: 3, configs: ["retention.ms": "60000"])
            let deleted = try broker.createTopic(name: "deleted", partitions: 2, configs: [:])
            _ = try broker.createTopic(name: "grown", partitions: 1, configs: [:])
            try broker.deleteTopic(deleted)
            try broker.shutdown()
        }
        // As a kill -9 would leave them: a creation registered before its directories were
        // made; a deletion unregistered before its directories went (one already renamed); a
        // CreatePartitions whose directory was made before the registry said so.
        for name in try System.directoryEntries(logs + "/created-2") { try System.unlink(logs + "/created-2/" + name) }
        try System.removeDirectory(logs + "/created-2")
        for name in ["deleted-0", "grown-1", "created-0.0123456789abcdef0123456789abcdef-delete"] {
            try System.makeDirectory(logs + "/" + name)
            try System.replaceFile(logs + "/" + name + "/00000000000000000000.log", with: [1, 2, 3])
        }
        let broker = try Broker(configuration: configuration(directory))
        defer { try? broker.shutdown() }
        #expect(broker.logs.allPartitions.map(\.directoryName) == ["created-0", "created-1", "created-2", "grown-0"])
        #expect(broker.logs.partition(.init(topic: "created", partition: 2))?.currentConfiguration.retentionMilliseconds == 60_000)
        #expect(Set(broker.logs.sweptDirectories) == ["deleted-0", "grown-1"])
        #expect(
            try System.directoryEntries(logs).filter { !$0.hasPrefix(".") }.sorted() == ["created-0", "created-1", "created-2", "grown-0"])
        // The names are free again.
        _ = try broker.createTopic(name: "deleted", partitions: 1, configs: [:])
        #expect(broker.logs.partition(.init(topic: "deleted", partition: 0))?.logEndOffset == 0)
    }

    @Test func aDeletionRenamesTheDirectoryBeforeRemovingIt() throws {
        let directory = TemporaryDirectory()
        let store = DiskFileStore(root: directory.path)
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let partition = TopicPartition(topic: "t", partition: 0)
        _ = try manager.createPartition(partition, configuration: LogConfiguration())
        // A file the deletion cannot remove keeps the renamed directory: the name is free.
        try System.makeDirectory(directory.path + "/t-0/stuck")
        #expect(throws: LogError.self) { try manager.deletePartition(partition) }
        let left = try store.list("")
        #expect(!left.contains("t-0"))
        #expect(left.contains { $0.hasPrefix("t-0.") && $0.hasSuffix("-delete") })
        _ = try manager.createPartition(partition, configuration: LogConfiguration())
    }

    @Test func aDamagedRegistryIsRecoveredFromItsPreviousVersionAndTheDirectories() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/topics.json"
        do {
            let registry = try TopicRegistry(dataDirectory: directory.path)
            _ = try registry.add(TopicInfo(name: "first", id: Uuid.random().description, partitions: 2, configs: ["retention.ms": "1"]))
            _ = try registry.add(TopicInfo(name: "second", id: Uuid.random().description, partitions: 1, configs: [:]))
        }
        // The previous version holds "first" only; "second" and a third partition of "first"
        // exist as directories.
        try System.makeDirectory(directory.path + "/logs")
        for name in ["first-0", "first-1", "first-2", "second-0", "not a topic"] {
            try System.makeDirectory(directory.path + "/logs/" + name)
        }
        try System.replaceFile(path, with: Array("[{\"name\": \"tor".utf8))
        let registry = try TopicRegistry(dataDirectory: directory.path, logDirectory: directory.path + "/logs")
        #expect(registry.all.map(\.name) == ["first", "second"])
        #expect(registry.topic(named: "first")?.configs == ["retention.ms": "1"])
        #expect(registry.topic(named: "first")?.partitions == 3)
        #expect(registry.topic(named: "second")?.partitions == 1)
        let warning = try #require(registry.recoveryWarning)
        #expect(warning.contains("damaged") && warning.contains("rebuilt from their partition directories") && warning.contains("second"))
        #expect(try System.readFileIfPresent(path + ".damaged") == Array("[{\"name\": \"tor".utf8))
        // The recovered registry is written back: the next start reads it without a warning.
        let again = try TopicRegistry(dataDirectory: directory.path, logDirectory: directory.path + "/logs")
        #expect(again.recoveryWarning == nil && again.all.map(\.name) == ["first", "second"])
    }

    @Test func aStopBetweenTheRenamesOfAWriteLeavesThePreviousVersion() throws {
        let directory = TemporaryDirectory()
        do {
            let registry = try TopicRegistry(dataDirectory: directory.path)
            _ = try registry.add(TopicInfo(name: "first", id: Uuid.random().description, partitions: 1, configs: [:]))
            _ = try registry.add(TopicInfo(name: "second", id: Uuid.random().description, partitions: 1, configs: [:]))
        }
        try System.unlink(directory.path + "/topics.json")
        #expect(try TopicRegistry(dataDirectory: directory.path).all.map(\.name) == ["first"])
    }

    /// A data directory that served a cluster member, started by a single broker: the high
    /// watermark its replication checkpointed no longer caps what consumers read, and goes.
    @Test func aSingleBrokerForgetsTheHighWatermarkOfItsClusterDays() throws {
        let directory = TemporaryDirectory()
        let name = TopicPartition(topic: "formerly-replicated", partition: 0)
        do {
            let broker = try Broker(configuration: configuration(directory))
            _ = try broker.createTopic(name: name.topic, partitions: 1, configs: [:])
            _ = try broker.logs.partition(name)!.append(batch(["a", "b", "c"]), leaderEpoch: 0, now: 0)
            try broker.shutdown()
        }
        let checkpoint = directory.path + "/data/logs/formerly-replicated-0/replication-high-watermark"
        try System.replaceFile(checkpoint, with: Array("1\n".utf8))
        let broker = try Broker(configuration: configuration(directory))
        defer { try? broker.shutdown() }
        let log = try #require(broker.logs.partition(name))
        #expect(log.highWatermark == 3 && log.replicationHighWatermark == nil)
        #expect(
            (try? System.directoryEntries(directory.path + "/data/logs/formerly-replicated-0"))?.contains("replication-high-watermark")
                == false)
    }
}
