// Requests a client is free to send that once crashed the broker, or made it allocate what a
// field claimed: each now gets an answer (Kafka's where Kafka has one) and the broker goes on.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import TestSupport
import Testing

@testable import Broker

@Suite struct HostileInputTests {
    /// The broker still answers on the same connection.
    func expectAlive(_ client: KafkaTestClient) throws {
        let versions = try client.send(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: 3)
        #expect(versions.errorCode == 0)
    }

    @Test func clientsCannotWriteInternalTopics() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            let metadata = try client.send(
                MetadataRequest(
                    topics: [.init(name: "__consumer_offsets"), .init(name: "__mine")],
                    allowAutoTopicCreation: true), version: 12)
            #expect(metadata.topics.map(\.isInternal) == [true, false])
            let produced = try client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(name: "__consumer_offsets", partitionData: [.init(index: 0, records: .bytes(batch(["x"])))]),
                        .init(name: "__mine", partitionData: [.init(index: 0, records: .bytes(batch(["x"])))]),
                    ]), version: 9)
            let refused = produced.responses[0].partitionResponses[0]
            #expect(refused.errorCode == ErrorCode.invalidTopicException.rawValue)
            #expect(refused.errorMessage == "Cannot append to internal topic __consumer_offsets")
            #expect(broker.offsetsTopic.partitionLog(0)?.logEndOffset == 0)
            #expect(produced.responses[1].partitionResponses[0].errorCode == 0)
        }
    }

    @Test func anInt64MaxRetentionTimeIsKeptNotOverflowed() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "kept", numPartitions: 1, replicationFactor: 1)]), version: 5)
            let commit = try client.send(
                OffsetCommitRequest(
                    groupId: "forever", generationIdOrMemberEpoch: -1, retentionTimeMs: .max,
                    topics: [
                        .init(name: "kept", partitions: [.init(partitionIndex: 0, committedOffset: 7, committedMetadata: nil)])
                    ]), version: 2)
            #expect(commit.topics[0].partitions[0].errorCode == 0)
            let fetched = try client.send(
                OffsetFetchRequest(groupId: "forever", topics: [.init(name: "kept", partitionIndexes: [0])]), version: 3)
            #expect(fetched.topics[0].partitions[0].committedOffset == 7)
        }
    }

    @Test func stringsLongerThanKafkaAllowsAreMalformed() throws {
        try withBroker { _, address in
            // A compact string may claim more than 32,767 bytes; Kafka's readers refuse it,
            // so the request is malformed and the connection closes (the broker goes on).
            let long = String(repeating: "g", count: 40_000)
            let client = try KafkaTestClient(address)
            try client.sendOnly(OffsetCommitRequest(groupId: long, generationIdOrMemberEpoch: -1), version: 8)
            #expect(try client.connection.waitForClose())
            let heartbeat = try KafkaTestClient(address)
            try heartbeat.sendOnly(
                ConsumerGroupHeartbeatRequest(
                    groupId: "g", memberId: long, memberEpoch: 0, rebalanceTimeoutMs: 30_000,
                    subscribedTopicNames: ["x"], topicPartitions: []), version: 1)
            #expect(try heartbeat.connection.waitForClose())
            try expectAlive(try KafkaTestClient(address))
        }
    }

    @Test func describeTopicPartitionsRefusesANegativeCursor() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "paged", numPartitions: 3, replicationFactor: 1)]), version: 5)
            let refused = try client.send(
                DescribeTopicPartitionsRequest(
                    topics: [.init(name: "paged")], responsePartitionLimit: .max,
                    cursor: .init(topicName: "paged", partitionIndex: .min)), version: 0)
            #expect(refused.topics.map(\.errorCode) == [ErrorCode.invalidRequest.rawValue])
            let all = try client.send(
                DescribeTopicPartitionsRequest(topics: [.init(name: "paged")], responsePartitionLimit: .max), version: 0)
            #expect(all.topics[0].partitions.map(\.partitionIndex) == [0, 1, 2] && all.nextCursor == nil)
        }
    }

    @Test func manyTopicsAtTheDefaultCountCountTowardsTheBound() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            // num.partitions (1) each: 5,001 topic records and 5,001 partition records.
            let created = try client.send(
                CreateTopicsRequest(
                    topics: (0...5_000).map {
                        .init(name: "many-\($0)", numPartitions: -1, replicationFactor: -1)
                    }), version: 5)
            #expect(Set(created.topics.map(\.errorCode)) == [ErrorCode.policyViolation.rawValue])
            #expect(broker.topics.all.isEmpty)
        }
    }

    @Test func partitionCountsBeyondKafkasBatchBoundAreAPolicyViolation() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            let created = try client.send(
                CreateTopicsRequest(topics: [
                    .init(name: "huge", numPartitions: .max, replicationFactor: 1),
                    .init(name: "small", numPartitions: 1, replicationFactor: 1),
                ]), version: 5)
            // Kafka's controller fails the whole request ("excessively large batch").
            #expect(created.topics.map(\.errorCode) == [ErrorCode.policyViolation.rawValue, ErrorCode.policyViolation.rawValue])
            #expect(broker.topics.topic(named: "huge") == nil)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "small", numPartitions: 1, replicationFactor: 1)]), version: 5)
            let grown = try client.send(
                CreatePartitionsRequest(topics: [.init(name: "small", count: 20_000)], timeoutMs: 1_000), version: 3)
            #expect(grown.results[0].errorCode == ErrorCode.policyViolation.rawValue)
            #expect(broker.topics.topic(named: "small")?.partitions == 1)
        }
    }

    @Test func aTopicWhosePartitionsCannotAllBeCreatedIsNotRegistered() throws {
        try withBroker { broker, address in
            // Partition 1 exists already (as after a crash mid-creation): creating the topic fails there.
            _ = try broker.logs.createPartition(TopicPartition(topic: "half", partition: 1), configuration: LogConfiguration())
            let client = try KafkaTestClient(address)
            let created = try client.send(
                CreateTopicsRequest(topics: [.init(name: "half", numPartitions: 3, replicationFactor: 1)]), version: 5)
            #expect(created.topics[0].errorCode == ErrorCode.kafkaStorageError.rawValue)
            #expect(broker.topics.topic(named: "half") == nil)
            #expect(broker.logs.partition(TopicPartition(topic: "half", partition: 0)) == nil)
        }
    }

    @Test func aBatchClaimingBillionsOfRecordsIsInvalidNotAnAllocation() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(
                CreateTopicsRequest(topics: [
                    .init(
                        name: "claims", numPartitions: 1, replicationFactor: 1,
                        configs: [.init(name: "cleanup.policy", value: "compact")])
                ]), version: 5)
            var bytes = try RecordBatchBuilder().build([
                Record(offset: 0, timestamp: 1_000, key: [1], value: [1]), Record(offset: 1, timestamp: 1_000, key: [2], value: [2]),
            ])
            // lastOffsetDelta and recordCount both claim Int32.max records; the CRC matches.
            bytes.replaceSubrange(23..<27, with: withUnsafeBytes(of: (Int32.max - 1).bigEndian, Array.init))
            bytes.replaceSubrange(57..<61, with: withUnsafeBytes(of: Int32.max.bigEndian, Array.init))
            let crc = CRC32C.checksum(bytes, range: 21..<bytes.count)
            bytes.replaceSubrange(17..<21, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "plain", numPartitions: 1, replicationFactor: 1)]), version: 5)
            let produced = try client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(name: "claims", partitionData: [.init(index: 0, records: .bytes(bytes))]),
                        .init(name: "plain", partitionData: [.init(index: 0, records: .bytes(bytes))]),
                    ]), version: 9)
            // Compacted (decoded) and plain (walked by record lengths) alike.
            #expect(
                produced.responses.map { $0.partitionResponses[0].errorCode } == [
                    ErrorCode.invalidRecord.rawValue, ErrorCode.invalidRecord.rawValue,
                ])
            try expectAlive(client)
        }
    }

    /// What Kafka's validateBatch refuses from a client, and a compressed batch whose content
    /// is not what its header claims: each refused with Kafka's code, nothing appended.
    @Test func batchesOnlyABrokerCouldWriteOrThatContradictThemselvesAreRefused() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(
                CreateTopicsRequest(topics: [
                    .init(name: "strict", numPartitions: 1, replicationFactor: 1),
                    .init(
                        name: "stamped", numPartitions: 1, replicationFactor: 1,
                        configs: [.init(name: "message.timestamp.type", value: "LogAppendTime")]),
                    .init(
                        name: "keyed", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "cleanup.policy", value: "compact")]),
                ]), version: 5)
            let records = (0..<50).map { Record(offset: Int64($0), timestamp: 1_000, key: nil, value: Array("value \($0)".utf8)) }
            func built(_ configure: (inout RecordBatchBuilder) -> Void) throws -> [UInt8] {
                var builder = RecordBatchBuilder()
                configure(&builder)
                return try builder.build(records)
            }
            func claimingOneMore(_ bytes: [UInt8]) -> [UInt8] {
                var patched = bytes
                patched.replaceSubrange(
                    RecordBatchLayout.lastOffsetDelta..<RecordBatchLayout.lastOffsetDelta + 4,
                    with: withUnsafeBytes(of: Int32(records.count).bigEndian, Array.init))
                patched.replaceSubrange(
                    RecordBatchLayout.recordCount..<RecordBatchLayout.recordCount + 4,
                    with: withUnsafeBytes(of: Int32(records.count + 1).bigEndian, Array.init))
                let crc = CRC32C.checksum(patched, range: RecordBatchLayout.attributes..<patched.count)
                patched.replaceSubrange(
                    RecordBatchLayout.crc..<RecordBatchLayout.crc + 4, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
                return patched
            }
            var garbled = try built { $0.compression = .lz4 }
            for position in RecordBatchLayout.recordsStart + 8..<garbled.count { garbled[position] = 0xA5 }
            let crc = CRC32C.checksum(garbled, range: RecordBatchLayout.attributes..<garbled.count)
            garbled.replaceSubrange(RecordBatchLayout.crc..<RecordBatchLayout.crc + 4, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            var damaged = try built {
                $0.producerId = 5
                $0.producerEpoch = 0
            }  // refused by its header, unless damaged
            damaged[damaged.count - 1] ^= 0x01
            var damagedKeyless = try built { _ in }  // keyless: a compacted topic's walk would refuse it, after the CRC
            damagedKeyless[damagedKeyless.count - 1] ^= 0x01
            let cases: [(String, String, [UInt8], ErrorCode)] = [
                (
                    "a producer id without a sequence", "strict",
                    try built {
                        $0.producerId = 5
                        $0.producerEpoch = 0
                    }, .invalidRecord
                ),
                ("the same with a bad CRC", "strict", damaged, .corruptMessage),
                (
                    "LogAppendTime set by the client, on a LogAppendTime topic", "stamped", try built { $0.timestampType = .logAppendTime },
                    .invalidTimestamp
                ),
                ("zstd claiming one record more", "strict", claimingOneMore(try built { $0.compression = .zstd }), .invalidRecord),
                ("gzip claiming one record more", "strict", claimingOneMore(try built { $0.compression = .gzip }), .invalidRecord),
                ("lz4 that does not inflate", "strict", garbled, .unknownServerError),
                ("a bad CRC on a compacted topic", "keyed", damagedKeyless, .corruptMessage),
            ]
            for (label, topic, bytes, expected) in cases {
                let produced = try client.send(
                    ProduceRequest(
                        acks: 1, timeoutMs: 1_000,
                        topicData: [
                            .init(name: topic, partitionData: [.init(index: 0, records: .bytes(bytes))])
                        ]), version: 9)
                let partition = produced.responses[0].partitionResponses[0]
                #expect(partition.errorCode == expected.rawValue, "\(label)")
                #expect(partition.errorMessage?.isEmpty == false, "\(label)")
                if expected == .invalidTimestamp { #expect(partition.recordErrors.count == records.count) }
            }
            let accepted = try client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(name: "strict", partitionData: [.init(index: 0, records: .bytes(try built { $0.compression = .zstd }))])
                    ]), version: 9)
            #expect(accepted.responses[0].partitionResponses[0].errorCode == 0)
            #expect(accepted.responses[0].partitionResponses[0].baseOffset == 0)
            // On a CreateTime topic Kafka 4.x takes a batch a client marked LogAppendTime, as CreateTime.
            let converted = try client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(
                            name: "strict",
                            partitionData: [.init(index: 0, records: .bytes(try built { $0.timestampType = .logAppendTime }))])
                    ]), version: 9)
            #expect(converted.responses[0].partitionResponses[0].errorCode == 0)
            let fetched = try client.send(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20,
                    topics: [
                        .init(topic: "strict", partitions: [.init(partition: 0, fetchOffset: 50, partitionMaxBytes: 1 << 20)])
                    ]), version: 12)
            let stored = try RecordBatch(bytes: try #require(fetched.responses[0].partitions[0].records?.bytes))
            try stored.validate()
            #expect(stored.timestampType == .createTime && stored.baseOffset == 50)
            try expectAlive(client)
        }
    }
}
