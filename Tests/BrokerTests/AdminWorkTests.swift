// Handlers that create or delete files run on the broker's admin thread: the reactor keeps
// answering its other connections meanwhile, and a connection's answers keep request order.

import KafkaProtocol
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct AdminWorkTests {
    @Test func topicCreationWaitsOnTheAdminThreadNotTheReactor() throws {
        try withBroker { broker, address in  // one event loop: every connection shares it
            // Hold the admin thread until the test lets go.
            let gate = Lock()
            gate.lock()
            broker.adminWork.execute {
                gate.lock()
                gate.unlock()
            }
            let creator = try KafkaTestClient(address)
            let createId = try creator.sendOnly(
                CreateTopicsRequest(topics: [.init(name: "offloaded", numPartitions: 3, replicationFactor: 1)]), version: 5)
            let versionsId = try creator.sendOnly(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: 3)
            let metadataCreation = try KafkaTestClient(address)
            let autoCreateId = try metadataCreation.sendOnly(
                MetadataRequest(topics: [.init(name: "auto-offloaded")], allowAutoTopicCreation: true), version: 12)

            // Another connection on the same reactor is answered at once.
            let other = try KafkaTestClient(address)
            #expect(try other.send(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: 3).errorCode == 0)
            // The creator's ApiVersions waits behind its CreateTopics.
            #expect(throws: TestFailure.self) { try creator.connection.readFrame(timeoutMilliseconds: 200) }
            #expect(broker.topics.topic(named: "offloaded") == nil)

            gate.unlock()
            let first = try #require(try creator.connection.readFrame())
            let (firstId, created) = try RequestCodec.decodeResponse(CreateTopicsResponse.self, frame: first, version: 5)
            #expect(firstId == createId && created.topics[0].errorCode == 0)
            let second = try #require(try creator.connection.readFrame())
            #expect(try RequestCodec.decodeResponse(ApiVersionsResponse.self, frame: second, version: 3).0 == versionsId)
            let described = try #require(try metadataCreation.connection.readFrame())
            let (describedId, metadata) = try RequestCodec.decodeResponse(MetadataResponse.self, frame: described, version: 12)
            #expect(describedId == autoCreateId && metadata.topics[0].errorCode == 0 && metadata.topics[0].partitions.count == 1)
        }
    }
}
