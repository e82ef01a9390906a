// Where client suites found Swiftlet departing from Kafka 4.x: Fetch's response-wide
// max_bytes (KIP-74), manual replica assignments, and min.insync.replicas on acks=all.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import Testing

@testable import Broker

@Suite struct CompatibilityTests {
    /// Record bytes each partition got, by partition.
    func recordBytes(_ response: FetchResponse) -> [Int32: Int] {
        Dictionary(uniqueKeysWithValues: response.responses[0].partitions.map { ($0.partitionIndex, $0.records?.count ?? 0) })
    }

    @Test func fetchMaxBytesBoundsTheWholeResponse() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            let create = CreateTopicsRequest(topics: [.init(name: "budget", numPartitions: 2, replicationFactor: 1)])
            #expect(try client.send(create, version: 5).topics[0].errorCode == 0)
            let one = batch([String(repeating: "v", count: 1_000)])
            for _ in 0..<5 {
                let produce = ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [.init(name: "budget", partitionData: [0, 1].map { .init(index: $0, records: .bytes(one)) })])
                #expect(try client.send(produce, version: 9).responses[0].partitionResponses.allSatisfy { $0.errorCode == 0 })
            }
            let size = one.count
            func fetch(maxBytes: Int, partitionMaxBytes: Int, from offsets: [Int64] = [0, 0]) throws -> [Int32: Int] {
                let request = FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: Int32(maxBytes),
                    topics: [
                        .init(
                            topic: "budget",
                            partitions: [0, 1].map {
                                .init(partition: $0, fetchOffset: offsets[Int($0)], partitionMaxBytes: Int32(partitionMaxBytes))
                            })
                    ])
                return recordBytes(try client.send(request, version: 12))
            }
            // The response limit applies across partitions: the first gets a batch and a half
            // (cut, as Kafka cuts), the second nothing.
            #expect(try fetch(maxBytes: size * 3 / 2, partitionMaxBytes: 20_000_000) == [0: size * 3 / 2, 1: 0])
            // Only the first batch of the first partition with data may pass it.
            #expect(try fetch(maxBytes: size / 2, partitionMaxBytes: 20_000_000) == [0: size, 1: 0])
            #expect(try fetch(maxBytes: size / 2, partitionMaxBytes: 20_000_000, from: [5, 0]) == [0: 0, 1: size])
            // A later partition whose first batch does not fit what is left gets nothing, not a
            // cut batch; one that fits gets up to the smaller of both limits.
            #expect(try fetch(maxBytes: size * 3 / 2 + 10, partitionMaxBytes: size + 10) == [0: size + 10, 1: 0])
            #expect(try fetch(maxBytes: size * 3, partitionMaxBytes: size + 10) == [0: size + 10, 1: size + 10])
            #expect(try fetch(maxBytes: size * 20, partitionMaxBytes: size * 20) == [0: size * 5, 1: size * 5])
        }
    }

    @Test func manualAssignmentsAreCheckedAsKafkasControllerChecksThem() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            func create(
                _ name: String, _ assignments: [(Int32, [Int32])], partitions: Int32 = -1, replicationFactor: Int16 = -1
            ) throws -> CreateTopicsResponse.CreatableTopicResult {
                try createTopic(client, name, assignments, partitions: partitions, replicationFactor: replicationFactor)
            }
            let refusals: [(CreateTopicsResponse.CreatableTopicResult, ErrorCode, String)] = [
                (
                    try create("gap", [(0, [1]), (2, [1])]), .invalidReplicaAssignment,
                    "partitions should be a consecutive 0-based integer sequence"
                ),
                (
                    try create("twice", [(0, [1]), (0, [1])]), .invalidReplicaAssignment,
                    "Found multiple manual partition assignments for partition 0"
                ),
                (
                    try create("elsewhere", [(0, [7])]), .invalidReplicaAssignment,
                    "The manual partition assignment includes broker 7, but no such broker is registered."
                ),
                (
                    try create("doubled", [(0, [1, 1])]), .invalidReplicaAssignment,
                    "The manual partition assignment includes the broker 1 more than once."
                ),
                (
                    try create("none", [(0, [])]), .invalidReplicaAssignment,
                    "The manual partition assignment includes an empty replica list."
                ),
                (
                    try create("counted", [(0, [1])], partitions: 1), .invalidRequest,
                    "A manual partition assignment was specified, but numPartitions was not set to -1."
                ),
                (
                    try create("factored", [(0, [1])], replicationFactor: 1), .invalidRequest,
                    "A manual partition assignment was specified, but replication factor was not set to -1."
                ),
            ]
            for (result, error, message) in refusals {
                #expect(result.errorCode == error.rawValue, "\(result.name)")
                #expect(result.errorMessage == message)
                #expect(broker.topics.topic(named: result.name) == nil, "\(result.name) was created")
            }
            let sound = try create("sound", [(1, [1]), (0, [1])])
            #expect(sound.errorCode == 0 && sound.numPartitions == 2)
            #expect(broker.logs.partition(TopicPartition(topic: "sound", partition: 1)) != nil)
        }
    }

    func createTopic(
        _ client: KafkaTestClient, _ name: String, _ assignments: [(Int32, [Int32])], partitions: Int32, replicationFactor: Int16
    ) throws -> CreateTopicsResponse.CreatableTopicResult {
        let topic = CreateTopicsRequest.CreatableTopic(
            name: name, numPartitions: partitions, replicationFactor: replicationFactor,
            assignments: assignments.map { .init(partitionIndex: $0.0, brokerIds: $0.1) })
        return try client.send(CreateTopicsRequest(topics: [topic]), version: 5).topics[0]
    }

    @Test func minInsyncReplicasIsCappedAtTheReplicaCountAsInKafka() throws {
        // Kafka 4.x's effectiveMinIsr: the ISR must reach min(min.insync.replicas, replicas).
        #expect(ProduceHandler.lacksInSyncReplicas(minimumInSync: 2, replicas: 1, inSync: 1) == false)
        #expect(ProduceHandler.lacksInSyncReplicas(minimumInSync: 2, replicas: 3, inSync: 1) == true)
        #expect(ProduceHandler.lacksInSyncReplicas(minimumInSync: 2, replicas: 3, inSync: 2) == false)
        #expect(ProduceHandler.lacksInSyncReplicas(minimumInSync: 4, replicas: 3, inSync: 3) == false)
        #expect(ProduceHandler.lacksInSyncReplicas(minimumInSync: 1, replicas: 3, inSync: 0) == true)
        // One node, one replica: acks=all is accepted on a topic asking for two, as Kafka 4.x
        // accepts it, and the setting is kept and described.
        try withBroker({ $0.logDefaults.minimumInSyncReplicas = 3 }) { broker, address in
            let client = try KafkaTestClient(address)
            let create = CreateTopicsRequest(topics: [
                .init(name: "strict", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "min.insync.replicas", value: "2")])
            ])
            #expect(try client.send(create, version: 5).topics[0].errorCode == 0)
            let request = ProduceRequest(
                acks: -1, timeoutMs: 1_000,
                topicData: [.init(name: "strict", partitionData: [.init(index: 0, records: .bytes(batch(["x"])))])])
            let produced = try client.send(request, version: 9).responses[0].partitionResponses[0]
            #expect(produced.errorCode == 0 && produced.baseOffset == 0)
            #expect(broker.logs.partition(TopicPartition(topic: "strict", partition: 0))?.currentConfiguration.minimumInSyncReplicas == 2)
            #expect(broker.configuration.setting(named: "min.insync.replicas")?.value == "3")
        }
    }

    @Test func kafkaDefaultsRestoreTheInitialRebalanceDelay() {
        var configuration = BrokerConfiguration()
        #expect(configuration.groups.initialRebalanceDelayMilliseconds == 0)
        configuration.restoreKafkaDefaults()
        #expect(configuration.groups.initialRebalanceDelayMilliseconds == 3_000)
    }
}
