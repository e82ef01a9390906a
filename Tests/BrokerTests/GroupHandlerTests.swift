// The group APIs in-process over real sockets: FindCoordinator, a classic join/sync across
// two connections on different reactors, commits and fetches in every layout (single
// group, batched groups, topic ids), the admin calls, KIP-848's heartbeat, and committed
// offsets surviving a restart.

import Glibc
import KafkaProtocol
import KafkaWire
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct GroupHandlerTests {
    func receive<Response: KafkaResponse>(_ type: Response.Type, on client: KafkaTestClient, version: Int16, correlationId: Int32) throws
        -> Response
    {
        let frame = try #require(try client.connection.readFrame())
        let (received, response) = try RequestCodec.decodeResponse(type, frame: frame, version: version)
        #expect(received == correlationId)
        return response
    }

    func join(_ client: KafkaTestClient, memberId: String = "", version: Int16 = 5) throws -> JoinGroupResponse {
        try client.send(
            JoinGroupRequest(
                groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: memberId,
                protocolType: "consumer", protocols: [.init(name: "range", metadata: [0, 1])]), version: version)
    }

    @Test func findCoordinatorNamesThisBrokerAndCreatesTheOffsetsTopic() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            let single = try client.send(FindCoordinatorRequest(key: "g", keyType: 0), version: 3)
            #expect(single.errorCode == 0 && single.nodeId == 1 && single.port == broker.advertised.port)
            let batched = try client.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["a", "b"]), version: 4)
            #expect(batched.coordinators.map(\.key) == ["a", "b"])
            #expect(batched.coordinators.allSatisfy { $0.errorCode == 0 && $0.nodeId == 1 })
            let invalid = try client.send(FindCoordinatorRequest(keyType: 9, coordinatorKeys: ["a"]), version: 4)
            #expect(invalid.coordinators[0].errorCode == ErrorCode.invalidRequest.rawValue)
            let metadata = try client.send(MetadataRequest(topics: [.init(name: "__consumer_offsets")]), version: 12)
            #expect(metadata.topics[0].errorCode == 0 && metadata.topics[0].isInternal)
            #expect(metadata.topics[0].partitions.count == 50)
            #expect(broker.topics.topic(named: "__consumer_offsets")?.configs["cleanup.policy"] == "compact")
        }
    }

    @Test func autoCreatingTheOffsetsTopicMakesTheInternalTopic() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            let metadata = try client.send(
                MetadataRequest(topics: [.init(name: "__consumer_offsets")], allowAutoTopicCreation: true), version: 12)
            #expect(metadata.topics[0].partitions.count == 50)
            #expect(broker.topics.topic(named: "__consumer_offsets")?.configs["cleanup.policy"] == "compact")
            // Commits land in the group's partition of that topic.
            let commit = try client.send(
                OffsetCommitRequest(
                    groupId: "g", generationIdOrMemberEpoch: -1,
                    topics: [
                        .init(
                            name: "__consumer_offsets", partitions: [.init(partitionIndex: 0, committedOffset: 1, committedMetadata: nil)])
                    ]), version: 8)
            #expect(commit.topics[0].partitions[0].errorCode == 0)
            let partition = broker.groups.offsetsPartition(for: "g")
            #expect(broker.offsetsTopic.partitionLog(partition)?.logEndOffset == 1)
        }
    }

    @Test func aJoinParkedOnOneReactorIsAnsweredWhenAnotherReleasesIt() throws {
        try withBroker({ $0.eventLoops = 2 }) { _, address in
            let first = try KafkaTestClient(address)
            let second = try KafkaTestClient(address)
            let required = try join(first)
            #expect(required.errorCode == ErrorCode.memberIdRequired.rawValue)
            let leader = try join(first, memberId: required.memberId)
            #expect(leader.errorCode == 0 && leader.generationId == 1)
            _ = try first.send(SyncGroupRequest(groupId: "g", generationId: 1, memberId: leader.memberId, assignments: []), version: 3)
            // The second member's join parks until the first rejoins.
            let secondId = try join(second).memberId
            let parked = try second.sendOnly(
                JoinGroupRequest(
                    groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: secondId,
                    protocolType: "consumer", protocols: [.init(name: "range", metadata: [2])]), version: 5)
            // The other connection's join arrives on its own reactor; the heartbeat sees it soon.
            var heartbeat = HeartbeatResponse()
            for _ in 0..<200 {
                heartbeat = try first.send(HeartbeatRequest(groupId: "g", generationId: 1, memberId: leader.memberId), version: 3)
                if heartbeat.errorCode != 0 { break }
                usleep(10_000)
            }
            #expect(heartbeat.errorCode == ErrorCode.rebalanceInProgress.rawValue)
            let rejoined = try join(first, memberId: leader.memberId)
            #expect(rejoined.generationId == 2)
            #expect(Set(rejoined.members.map(\.memberId)) == [leader.memberId, secondId])
            let follower = try receive(JoinGroupResponse.self, on: second, version: 5, correlationId: parked)
            #expect(follower.generationId == 2 && follower.leader == leader.memberId && follower.members.isEmpty)
            // The follower's sync parks until the leader's assignment arrives.
            let followerSync = try second.sendOnly(
                SyncGroupRequest(
                    groupId: "g", generationId: 2, memberId: secondId,
                    protocolType: "consumer", protocolName: "range"), version: 5)
            let leaderSync = try first.send(
                SyncGroupRequest(
                    groupId: "g", generationId: 2, memberId: leader.memberId, protocolType: "consumer",
                    protocolName: "range", assignments: [.init(memberId: secondId, assignment: [42])]), version: 5)
            #expect(leaderSync.errorCode == 0 && leaderSync.assignment == [])
            let synced = try receive(SyncGroupResponse.self, on: second, version: 5, correlationId: followerSync)
            #expect(synced.assignment == [42])
            #expect(synced.protocolType == "consumer" && synced.protocolName == "range")
            // LeaveGroup v3 names members; an unknown one has its own error.
            let leave = try second.send(
                LeaveGroupRequest(groupId: "g", members: [.init(memberId: secondId), .init(memberId: "ghost")]), version: 3)
            #expect(leave.errorCode == 0)
            #expect(leave.members.map(\.errorCode) == [0, ErrorCode.unknownMemberId.rawValue])
        }
    }

    @Test func commitsAndFetchesInEveryLayout() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "orders")], allowAutoTopicCreation: true), version: 12)
            let topicId = try #require(broker.topics.topic(named: "orders")?.topicId)
            let commit = try client.send(
                OffsetCommitRequest(
                    groupId: "simple", generationIdOrMemberEpoch: -1,
                    topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partitionIndex: 0, committedOffset: 17, committedLeaderEpoch: 0, committedMetadata: "meta"),
                                .init(partitionIndex: 9, committedOffset: 1, committedMetadata: nil),
                            ]),
                        .init(name: "missing", partitions: [.init(partitionIndex: 0, committedOffset: 1, committedMetadata: nil)]),
                    ]), version: 8)
            #expect(commit.topics.map { $0.partitions.map(\.errorCode) } == [[0, 3], [3]])
            // v1-7: one group; a partition without a commit is -1 with no error.
            let single = try client.send(
                OffsetFetchRequest(groupId: "simple", topics: [.init(name: "orders", partitionIndexes: [0, 1])]), version: 5)
            #expect(single.errorCode == 0)
            #expect(single.topics[0].partitions.map(\.committedOffset) == [17, -1])
            #expect(single.topics[0].partitions[0].metadata == "meta")
            // v8: batched groups; null topics means every committed offset.
            let batched = try client.send(
                OffsetFetchRequest(groups: [.init(groupId: "simple", topics: nil), .init(groupId: "nobody", topics: nil)]), version: 8)
            #expect(batched.groups.map(\.groupId) == ["simple", "nobody"])
            #expect(batched.groups[0].topics.map(\.name) == ["orders"])
            #expect(batched.groups[0].topics[0].partitions.map(\.committedOffset) == [17])
            #expect(batched.groups[1].topics.isEmpty && batched.groups[1].errorCode == 0)
            // v10: topic ids both ways.
            let byId = try client.send(
                OffsetCommitRequest(
                    groupId: "simple", generationIdOrMemberEpoch: -1,
                    topics: [
                        .init(topicId: topicId, partitions: [.init(partitionIndex: 0, committedOffset: 18, committedMetadata: nil)]),
                        .init(topicId: Uuid.random(), partitions: [.init(partitionIndex: 0, committedOffset: 1, committedMetadata: nil)]),
                    ]), version: 10)
            #expect(byId.topics.map { $0.partitions[0].errorCode } == [0, ErrorCode.unknownTopicId.rawValue])
            let fetchedById = try client.send(
                OffsetFetchRequest(groups: [.init(groupId: "simple", topics: [.init(topicId: topicId, partitionIndexes: [0])])]),
                version: 10)
            #expect(fetchedById.groups[0].topics[0].topicId == topicId)
            #expect(fetchedById.groups[0].topics[0].partitions[0].committedOffset == 18)
            // The admin view of it.
            let listed = try client.send(ListGroupsRequest(statesFilter: ["Empty"], typesFilter: ["classic"]), version: 5)
            #expect(listed.groups.map(\.groupId) == ["simple"])
            let described = try client.send(DescribeGroupsRequest(groups: ["simple", "nobody"]), version: 6)
            #expect(described.groups.map(\.groupState) == ["Empty", "Dead"])
            #expect(described.groups[1].errorCode == ErrorCode.groupIdNotFound.rawValue)
            let offsetDelete = try client.send(
                OffsetDeleteRequest(groupId: "simple", topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0)])]), version: 0)
            #expect(offsetDelete.errorCode == 0 && offsetDelete.topics[0].partitions[0].errorCode == 0)
            let deleted = try client.send(DeleteGroupsRequest(groupsNames: ["simple", "nobody"]), version: 2)
            #expect(deleted.results.map(\.errorCode) == [0, ErrorCode.groupIdNotFound.rawValue])
        }
    }

    @Test func consumerGroupHeartbeatAssignsByTopicId() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "kip848", numPartitions: 3, replicationFactor: 1)]), version: 5)
            let topicId = try #require(broker.topics.topic(named: "kip848")?.topicId)
            let memberId = Uuid.random().base64
            let joined = try client.send(
                ConsumerGroupHeartbeatRequest(
                    groupId: "cg", memberId: memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: ["kip848"],
                    serverAssignor: "range", topicPartitions: []), version: 1)
            #expect(joined.errorCode == 0 && joined.memberId == memberId && joined.memberEpoch == 1)
            #expect(joined.assignment?.topicPartitions.map(\.topicId) == [topicId])
            #expect(joined.assignment?.topicPartitions[0].partitions == [0, 1, 2])
            let described = try client.send(ConsumerGroupDescribeRequest(groupIds: ["cg"]), version: 1)
            #expect(described.groups[0].groupState == "Stable" && described.groups[0].assignorName == "range")
            #expect(described.groups[0].members[0].assignment.topicPartitions[0].topicName == "kip848")
            let listed = try client.send(ListGroupsRequest(typesFilter: ["consumer"]), version: 5)
            #expect(listed.groups.map(\.groupId) == ["cg"])
            let leave = try client.send(ConsumerGroupHeartbeatRequest(groupId: "cg", memberId: memberId, memberEpoch: -1), version: 1)
            #expect(leave.errorCode == 0 && leave.memberEpoch == -1)
        }
    }

    @Test func committedOffsetsSurviveARestart() throws {
        let directory = TemporaryDirectory()
        func configure(_ configuration: inout BrokerConfiguration) { configuration.dataDirectory = directory.path }
        try withBroker(configure) { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "kept")], allowAutoTopicCreation: true), version: 12)
            let commit = try client.send(
                OffsetCommitRequest(
                    groupId: "durable", generationIdOrMemberEpoch: -1,
                    topics: [
                        .init(name: "kept", partitions: [.init(partitionIndex: 0, committedOffset: 99, committedMetadata: "m")])
                    ]), version: 8)
            #expect(commit.topics[0].partitions[0].errorCode == 0)
        }
        try withBroker(configure) { _, address in
            let client = try KafkaTestClient(address)
            let fetched = try client.send(OffsetFetchRequest(groups: [.init(groupId: "durable", topics: nil)]), version: 8)
            #expect(fetched.groups[0].topics.first?.partitions.first?.committedOffset == 99)
            #expect(fetched.groups[0].topics.first?.partitions.first?.metadata == "m")
        }
    }
}
