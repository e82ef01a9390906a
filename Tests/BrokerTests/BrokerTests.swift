// The broker in-process against a real socket: version negotiation (including the v0
// fallback every client relies on), auto-creation, produce and fetch rules, acks=0 and the
// connection closing where Kafka closes it.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct BrokerTests {
    @Test func apiVersionsIsDerivedFromTheHandlers() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            let response = try client.send(
                ApiVersionsRequest(clientSoftwareName: "swiftlet-tests", clientSoftwareVersion: "1.0"), version: 3)
            #expect(response.errorCode == 0)
            let produce = try #require(response.apiKeys.first { $0.apiKey == ApiKey.produce.rawValue })
            #expect(produce.minVersion == 0 && produce.maxVersion == 13)
            #expect(response.apiKeys.count == broker.handlers.handlers.count)
            // A served range never exceeds what the codec decodes (Produce's advertised v0-2 aside).
            for entry in response.apiKeys where entry.apiKey != ApiKey.produce.rawValue {
                #expect(ApiKey(rawValue: entry.apiKey)!.validVersions.contains(entry.minVersion))
                #expect(ApiKey(rawValue: entry.apiKey)!.validVersions.contains(entry.maxVersion))
            }
        }
    }

    @Test func anUnknownApiVersionsVersionGetsAVersionZeroBody() throws {
        try withBroker { _, address in
            let client = TestClient.self
            let connection = try client.init(address)
            var writer = ByteWriter()
            try RequestHeader(requestApiKey: 18, requestApiVersion: 9, correlationId: 77, clientId: "future").encode(
                into: &writer, version: 2)
            writer.writeBytes([0, 0, 0])
            try connection.sendFrame(writer.bytes)
            let frame = try #require(try connection.readFrame())
            // Header v0 (correlation id only), then int16 error 35 and an int32 array count.
            #expect(Array(frame.prefix(4)) == [0, 0, 0, 77])
            let body = try ApiVersionsResponse(bytes: Array(frame.dropFirst(4)), version: 0)
            #expect(body.errorCode == ErrorCode.unsupportedVersion.rawValue)
            #expect(body.apiKeys.map(\.apiKey) == [18])
            #expect(body.apiKeys[0].maxVersion == 4)
        }
    }

    @Test func metadataAutoCreatesAndRejectsBadNames() throws {
        try withBroker({ $0.defaultPartitions = 3 }) { broker, address in
            let client = try KafkaTestClient(address)
            let response = try client.send(
                MetadataRequest(
                    topics: [.init(name: "fresh"), .init(name: "bad name!")],
                    allowAutoTopicCreation: true), version: 12)
            #expect(response.topics.map(\.errorCode) == [0, ErrorCode.invalidTopicException.rawValue])
            #expect(response.topics[0].partitions.count == 3)
            #expect(!response.topics[0].topicId.isZero)
            #expect(broker.topics.topic(named: "fresh")?.topicId == response.topics[0].topicId)
            let noCreate = try client.send(MetadataRequest(topics: [.init(name: "absent")], allowAutoTopicCreation: false), version: 12)
            #expect(noCreate.topics[0].errorCode == ErrorCode.unknownTopicOrPartition.rawValue)
            // v1+: an empty list asks for no topics, null for all of them.
            #expect(try client.send(MetadataRequest(topics: []), version: 4).topics.isEmpty)
            #expect(try client.send(MetadataRequest(topics: nil), version: 4).topics.map(\.name) == ["fresh"])
        }
    }

    @Test func produceThenFetchFromTheMiddleOfABatch() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "t")], allowAutoTopicCreation: true), version: 12)
            let produce = ProduceRequest(
                acks: -1, timeoutMs: 1_000,
                topicData: [
                    .init(name: "t", partitionData: [.init(index: 0, records: .bytes(batch(["a", "b", "c"])))])
                ])
            let produced = try client.send(produce, version: 9)
            #expect(produced.responses[0].partitionResponses[0].errorCode == 0)
            #expect(produced.responses[0].partitionResponses[0].baseOffset == 0)
            let fetch = FetchRequest(
                maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20,
                topics: [
                    .init(topic: "t", partitions: [.init(partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20)])
                ])
            let fetched = try client.send(fetch, version: 12)
            let partition = fetched.responses[0].partitions[0]
            #expect(partition.errorCode == 0 && partition.highWatermark == 3)
            let records = try RecordBatch.batches(in: partition.records?.bytes ?? []).flatMap { try $0.records() }
            // The whole batch comes back; the consumer skips offset 0 itself.
            #expect(records.map(\.offset) == [0, 1, 2])
            // Past the end: OFFSET_OUT_OF_RANGE with the watermarks.
            var outOfRange = fetch
            outOfRange.topics[0].partitions[0].fetchOffset = 9
            let error = try client.send(outOfRange, version: 12).responses[0].partitions[0]
            #expect(error.errorCode == ErrorCode.offsetOutOfRange.rawValue && error.highWatermark == 3)
        }
    }

    @Test func portZeroIsAdvertisedAsThePortBound() throws {
        // withBroker listens on 127.0.0.1:0: clients must be told the port the system chose.
        try withBroker { broker, address in
            #expect(address.port != 0)
            let client = try KafkaTestClient(address)
            let metadata = try client.send(MetadataRequest(topics: []), version: 12)
            #expect(metadata.brokers.map(\.port) == [Int32(address.port)])
            #expect(metadata.brokers.map(\.host) == ["127.0.0.1"])
            let coordinator = try client.send(FindCoordinatorRequest(key: "g"), version: 3)
            #expect(coordinator.port == Int32(address.port))
            #expect(broker.advertised.port == Int32(address.port))
        }
        // An advertised port given explicitly is kept.
        try withBroker({
            $0.listeners[0].advertisedHost = "kafka.example"
            $0.listeners[0].advertisedPort = 19092
        }) { broker, _ in
            #expect(broker.advertised == ("kafka.example", 19092))
        }
    }

    @Test func aShutdownAnswersParkedFetchesAtOnce() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "idle")], allowAutoTopicCreation: true), version: 12)
            let fetch = FetchRequest(
                maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20,
                topics: [.init(topic: "idle", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])])
            try client.sendOnly(fetch, version: 12)
            #expect(throws: (any Error).self) { try client.connection.readFrame(timeoutMilliseconds: 200) }  // parked
            broker.beginShutdown()
            // Well before the 60 s max_wait_ms.
            let frame = try #require(try client.connection.readFrame(timeoutMilliseconds: 5_000))
            let (_, response) = try RequestCodec.decodeResponse(FetchResponse.self, frame: frame, version: 12)
            #expect(response.responses[0].partitions[0].errorCode == 0 && response.responses[0].partitions[0].records?.count == 0)
            // A fetch that arrives once the shutdown began does not park either.
            let again = try client.send(fetch, version: 12)
            #expect(again.responses[0].partitions[0].errorCode == 0)
        }
    }

    @Test func acksZeroGetsNoResponseAndAFailureClosesTheConnection() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "quiet")], allowAutoTopicCreation: true), version: 12)
            let good = ProduceRequest(
                acks: 0, timeoutMs: 1_000,
                topicData: [
                    .init(name: "quiet", partitionData: [.init(index: 0, records: .bytes(batch(["x"])))])
                ])
            try client.sendOnly(good, version: 9)
            // The next response on the connection is the Metadata one: no Produce answer came.
            let metadata = try client.send(MetadataRequest(topics: []), version: 12)
            #expect(metadata.topics.isEmpty)
            var bad = good
            bad.topicData[0].name = "missing"
            try client.sendOnly(bad, version: 9)
            #expect(try client.connection.waitForClose())
        }
    }

    @Test func unsupportedVersionsAndUnknownKeysCloseTheConnection() throws {
        try withBroker { _, address in
            let old = try KafkaTestClient(address)
            // Produce v2 is advertised (librdkafka's feature check) but not served.
            var writer = ByteWriter()
            try RequestHeader(requestApiKey: 0, requestApiVersion: 2, correlationId: 1, clientId: nil).encode(into: &writer, version: 1)
            try old.connection.sendFrame(writer.bytes)
            #expect(try old.connection.waitForClose())
            let unknown = try TestClient(address)
            try unknown.sendFrame([0x03, 0xE7, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF])
            #expect(try unknown.waitForClose())
        }
    }

    @Test func parkedFetchWakesOnAppend() throws {
        try withBroker { _, address in
            let consumer = try KafkaTestClient(address)
            let producer = try KafkaTestClient(address)
            _ = try producer.send(MetadataRequest(topics: [.init(name: "wait")], allowAutoTopicCreation: true), version: 12)
            let fetch = FetchRequest(
                maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20,
                topics: [
                    .init(topic: "wait", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
                ])
            let correlationId = try consumer.sendOnly(fetch, version: 12)
            let start = System.monotonicNanoseconds()
            _ = try producer.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(name: "wait", partitionData: [.init(index: 0, records: .bytes(batch(["now"])))])
                    ]), version: 9)
            let frame = try #require(try consumer.connection.readFrame())
            let (received, response) = try RequestCodec.decodeResponse(FetchResponse.self, frame: frame, version: 12)
            #expect(received == correlationId)
            #expect(response.responses[0].partitions[0].highWatermark == 1)
            // Answered by the append, long before the 10 s max wait.
            #expect(System.monotonicNanoseconds() - start < 5_000_000_000)
        }
    }

    @Test func describeTopicPartitionsPagesWithACursor() throws {
        try withBroker({ $0.defaultPartitions = 3 }) { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "a"), .init(name: "b")], allowAutoTopicCreation: true), version: 12)
            let first = try client.send(DescribeTopicPartitionsRequest(topics: [], responsePartitionLimit: 4), version: 0)
            #expect(first.topics.map(\.name) == ["a", "b"])
            #expect(first.topics.map { $0.partitions.count } == [3, 1])
            let cursor = try #require(first.nextCursor)
            #expect(cursor.topicName == "b" && cursor.partitionIndex == 1)
            let next = DescribeTopicPartitionsRequest.Cursor(topicName: cursor.topicName, partitionIndex: cursor.partitionIndex)
            let rest = try client.send(DescribeTopicPartitionsRequest(topics: [], responsePartitionLimit: 4, cursor: next), version: 0)
            #expect(rest.topics.map(\.name) == ["b"] && rest.topics[0].partitions.map(\.partitionIndex) == [1, 2])
            #expect(rest.nextCursor == nil)
            let missing = try client.send(DescribeTopicPartitionsRequest(topics: [.init(name: "zzz")]), version: 0)
            #expect(missing.topics[0].errorCode == ErrorCode.unknownTopicOrPartition.rawValue)
        }
    }

    @Test func describeLogDirsReportsPartitionSizes() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "sized")], allowAutoTopicCreation: true), version: 12)
            let bytes = batch(["one", "two"])
            _ = try client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 1_000,
                    topicData: [
                        .init(name: "sized", partitionData: [.init(index: 0, records: .bytes(bytes))])
                    ]), version: 9)
            let response = try client.send(DescribeLogDirsRequest(topics: nil), version: 4)
            let partition = try #require(response.results.first?.topics.first { $0.name == "sized" }?.partitions.first)
            #expect(partition.partitionSize == Int64(bytes.count))
        }
    }

    @Test func fetchSessionsSendOnlyWhatChanged() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "s1"), .init(name: "s2")], allowAutoTopicCreation: true), version: 12)
            func produce(_ topic: String, _ values: [String]) throws {
                _ = try client.send(
                    ProduceRequest(
                        acks: 1, timeoutMs: 1_000,
                        topicData: [
                            .init(name: topic, partitionData: [.init(index: 0, records: .bytes(batch(values)))])
                        ]), version: 9)
            }
            try produce("s1", ["a"])
            // Full fetch, epoch 0: a new session, every partition in the answer.
            let full = FetchRequest(
                maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, sessionId: 0, sessionEpoch: 0,
                topics: [
                    .init(topic: "s1", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
                    .init(topic: "s2", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
                ])
            let first = try client.send(full, version: 12)
            #expect(first.sessionId != 0)
            #expect(first.responses.map(\.topic) == ["s1", "s2"])
            // Incremental, epoch 1, the consumer moved on in s1: nothing changed, nothing sent.
            let nothing = try client.send(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, sessionId: first.sessionId, sessionEpoch: 1,
                    topics: [
                        .init(topic: "s1", partitions: [.init(partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20)])
                    ]), version: 12)
            #expect(nothing.errorCode == 0 && nothing.sessionId == first.sessionId)
            #expect(nothing.responses.isEmpty)
            // New data in s2 only: the next incremental answer names s2 alone.
            try produce("s2", ["b"])
            let changed = try client.send(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, sessionId: first.sessionId, sessionEpoch: 2,
                    topics: []), version: 12)
            #expect(changed.responses.map(\.topic) == ["s2"])
            #expect(changed.responses.first?.partitions.first?.records?.count ?? 0 > 0)
            // A stale epoch and an unknown session are errors.
            let stale = try client.send(FetchRequest(sessionId: first.sessionId, sessionEpoch: 2, topics: []), version: 12)
            #expect(stale.errorCode == ErrorCode.invalidFetchSessionEpoch.rawValue)
            let unknown = try client.send(FetchRequest(sessionId: 12_345, sessionEpoch: 1, topics: []), version: 12)
            #expect(unknown.errorCode == ErrorCode.fetchSessionIdNotFound.rawValue)
            // Epoch -1 closes the session and fetches without one.
            var closing = full
            closing.sessionId = first.sessionId
            closing.sessionEpoch = -1
            #expect(try client.send(closing, version: 12).sessionId == 0)
            let closed = try client.send(FetchRequest(sessionId: first.sessionId, sessionEpoch: 3, topics: []), version: 12)
            #expect(closed.errorCode == ErrorCode.fetchSessionIdNotFound.rawValue)
        }
    }

    @Test func theSessionCacheEvictsTheLeastRecentlyUsed() {
        let cache = FetchSessionCache(capacity: 2)
        func open() -> Int32 {
            guard case .full(let id, _) = cache.plan(FetchRequest(sessionId: 0, sessionEpoch: 0), targets: [], forgotten: []) else {
                return 0
            }
            return id
        }
        let first = open()
        let second = open()
        _ = cache.plan(FetchRequest(sessionId: first, sessionEpoch: 1), targets: [], forgotten: [])  // first is now the fresher
        let third = open()
        #expect(cache.count == 2)
        #expect(cache.plan(FetchRequest(sessionId: second, sessionEpoch: 1), targets: [], forgotten: []) == .error(.fetchSessionIdNotFound))
        #expect(cache.plan(FetchRequest(sessionId: first, sessionEpoch: 2), targets: [], forgotten: []) != .error(.fetchSessionIdNotFound))
        #expect(third != 0)
    }
}
