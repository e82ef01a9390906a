// The embedded broker as another project's tests would use it: started in memory or in a
// directory on a free port, reached by a Kafka client at bootstrapServers, stopped; a
// temporary directory goes with it, a directory of the caller's is kept and recovered.

import Glibc
import KafkaClient
import KafkaProtocol
import SwiftletEmbedded
import SystemCalls
import Testing

@Suite struct EmbeddedBrokerTests {
    func topicPartitions(_ bootstrap: String) throws -> [String: Int] {
        let connection = try BrokerConnection(bootstrap)
        let (metadata, _) = try connection.send(MetadataRequest(topics: nil, allowAutoTopicCreation: false))
        return Dictionary(uniqueKeysWithValues: metadata.topics.compactMap { topic in topic.name.map { ($0, topic.partitions.count) } })
    }

    @Test func inMemoryWithSeedAndCreatedTopics() async throws {
        let broker = try await EmbeddedBroker.start(.memory) { $0.seedTopics = [.init(name: "seeded", partitions: 2)] }
        try broker.createTopic("orders", partitions: 3)
        #expect(broker.bootstrapServers.hasPrefix("127.0.0.1:") && !broker.bootstrapServers.hasSuffix(":0"))
        let topics = try topicPartitions(broker.bootstrapServers)
        #expect(topics["seeded"] == 2 && topics["orders"] == 3, "\(topics)")
        #expect(throws: (any Error).self) { try broker.createTopic("orders") }
        try await broker.stop()
        #expect(throws: ClientError.self) { try BrokerConnection(broker.bootstrapServers, timeoutMilliseconds: 1_000) }
    }

    @Test func aTemporaryDirectoryGoesAndACallersDirectoryStays() throws {
        let temporary = try EmbeddedBroker(.temporaryDirectory)
        let directory = temporary.broker.logDirectory!
        try temporary.createTopic("scratch")
        try temporary.stop()
        #expect(access(directory, F_OK) != 0)

        let kept = try EmbeddedBroker(.temporaryDirectory)
        let path = kept.broker.logDirectory! + "-kept"
        try kept.stop()
        let first = try EmbeddedBroker(.directory(path))
        try first.createTopic("durable", partitions: 4)
        try first.stop()
        let second = try EmbeddedBroker(.directory(path))
        #expect(try topicPartitions(second.bootstrapServers)["durable"] == 4)
        try second.stop()
        try System.removeTree(path)
    }
}
