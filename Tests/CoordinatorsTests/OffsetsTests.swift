// Committed offsets: simple and member commits, fetches, OffsetDelete, retention, a log
// that refuses writes, and everything rebuilt by replaying __consumer_offsets.

import Coordinators
import KafkaProtocol
import KafkaWire
import Testing

@Suite struct OffsetsTests {
    func offset(_ partition: Int32, _ value: Int64, topic: String = "orders", metadata: String? = nil) -> OffsetCommitInput {
        OffsetCommitInput(partition: .init(topic: topic, partition: partition), offset: value, leaderEpoch: 4, metadata: metadata)
    }

    func simpleCommit(_ harness: Harness, group: String = "g", _ offsets: [OffsetCommitInput], retention: Int64 = -1) -> [ErrorCode] {
        harness.coordinator.commitOffsets(
            groupId: group, generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil,
            retentionMilliseconds: retention, apiVersion: 8, offsets: offsets)
    }

    @Test func aSimpleCommitCreatesTheGroupAndIsFetched() {
        let harness = Harness()
        #expect(simpleCommit(harness, [offset(0, 10, metadata: "m"), offset(1, 20)]) == [.none, .none])
        let (error, offsets) = harness.coordinator.fetchOffsets(
            groupId: "g", partitions: [.init(topic: "orders", partition: 0), .init(topic: "orders", partition: 5)],
            memberId: nil, memberEpoch: -1)
        #expect(error == .none)
        #expect(offsets[.init(topic: "orders", partition: 0)]?.offset == 10)
        #expect(offsets[.init(topic: "orders", partition: 0)]?.metadata == "m")
        #expect(offsets[.init(topic: "orders", partition: 0)]?.leaderEpoch == 4)
        #expect(offsets[.init(topic: "orders", partition: 5)] == nil)
        #expect(harness.coordinator.fetchOffsets(groupId: "g", partitions: nil, memberId: nil, memberEpoch: -1).1.count == 2)
        #expect(harness.coordinator.listGroups(states: [], types: []).map(\.state) == ["Empty"])
    }

    @Test func commitsToAnUnknownGroupWithAGenerationAreRefused() {
        let harness = Harness()
        let classic = harness.coordinator.commitOffsets(
            groupId: "none", generationIdOrMemberEpoch: 3, memberId: "m", groupInstanceId: nil,
            retentionMilliseconds: -1, apiVersion: 8, offsets: [offset(0, 1)])
        #expect(classic == [.illegalGeneration])
        let consumer = harness.coordinator.commitOffsets(
            groupId: "none", generationIdOrMemberEpoch: 3, memberId: "m", groupInstanceId: nil,
            retentionMilliseconds: -1, apiVersion: 9, offsets: [offset(0, 1)])
        #expect(consumer == [.groupIdNotFound])
        #expect(harness.coordinator.listGroups(states: [], types: []).isEmpty)
    }

    @Test func oversizedMetadataIsRefusedPerPartition() {
        let harness = Harness()
        let big = String(repeating: "x", count: 4_097)
        #expect(simpleCommit(harness, [offset(0, 1, metadata: big), offset(1, 2)]) == [.offsetMetadataTooLarge, .none])
    }

    @Test func aFailingLogLosesNothingAndSaysSo() {
        let harness = Harness()
        harness.log.fail(true)
        #expect(simpleCommit(harness, [offset(0, 1)]) == [.coordinatorNotAvailable])
        harness.log.fail(false)
        #expect(harness.coordinator.fetchOffsets(groupId: "g", partitions: nil, memberId: nil, memberEpoch: -1).1.isEmpty)
    }

    @Test func offsetDeleteRefusesSubscribedTopics() throws {
        let harness = Harness(topics: ["orders": 2, "old": 1])
        _ = simpleCommit(harness, group: "cg", [offset(0, 5), offset(0, 7, topic: "old")])
        let joined = harness.coordinator.consumerGroupHeartbeat(
            ConsumerHeartbeatInput(
                groupId: "cg", memberId: "m", memberEpoch: 0, instanceId: nil, rackId: nil, rebalanceTimeoutMilliseconds: 10_000,
                subscribedTopicNames: ["orders"], subscribedTopicRegex: nil, serverAssignor: nil, ownedPartitions: [],
                clientId: "c", clientHost: "h"))
        #expect(joined.error == .none)
        let (error, results) = harness.coordinator.deleteOffsets(
            groupId: "cg", partitions: [.init(topic: "orders", partition: 0), .init(topic: "old", partition: 0)])
        #expect(error == .none)
        #expect(results == [.groupSubscribedToTopic, .none])
        #expect(
            harness.coordinator.fetchOffsets(groupId: "cg", partitions: nil, memberId: nil, memberEpoch: -1).1.keys.map(\.topic) == [
                "orders"
            ])
        #expect(harness.coordinator.deleteOffsets(groupId: "missing", partitions: []).0 == .groupIdNotFound)
        #expect(harness.coordinator.deleteGroup("cg") == .nonEmptyGroup)
    }

    @Test func offsetsExpireInEmptyGroupsAfterRetention() {
        var configuration = GroupConfiguration()
        configuration.offsetsRetentionMilliseconds = 60_000
        configuration.offsetsRetentionCheckIntervalMilliseconds = 1_000
        let harness = Harness(configuration: configuration)
        _ = simpleCommit(harness, [offset(0, 1)])
        _ = simpleCommit(harness, group: "short", [offset(0, 1)], retention: 5_000)
        harness.elapse(6_000)
        #expect(harness.coordinator.listGroups(states: [], types: []).map(\.groupId) == ["g"])
        harness.elapse(60_000)
        #expect(harness.coordinator.listGroups(states: [], types: []).isEmpty)
        // The expiry was written as tombstones: a restart does not bring them back.
        #expect(harness.restarted().listGroups(states: [], types: []).isEmpty)
    }

    @Test func replayRebuildsOffsetsGroupsAndDeletions() throws {
        let harness = Harness()
        _ = simpleCommit(harness, group: "kept", [offset(0, 11), offset(1, 12)])
        _ = simpleCommit(harness, group: "deleted", [offset(0, 1)])
        #expect(harness.coordinator.deleteGroup("deleted") == .none)
        let first = try #require(harness.join("live", requireKnownMemberId: false).result)
        _ = harness.sync("live", generation: first.generationId, memberId: first.memberId, assignments: [(first.memberId, [7])])
        // Records land in the partition Kafka would pick for each group.
        for (partition, record) in harness.log.records {
            var reader = ByteReader(record.key)
            let version = try reader.readInt16()
            let group =
                version == 2 ? try GroupMetadataKey(from: &reader, version: 0).group : try OffsetCommitKey(from: &reader, version: 0).group
            #expect(partition == InternalTopic.partition(for: group, partitions: 50))
        }
        let restarted = harness.restarted()
        let offsets = restarted.fetchOffsets(groupId: "kept", partitions: nil, memberId: nil, memberEpoch: -1).1
        #expect(offsets.mapValues(\.offset) == [.init(topic: "orders", partition: 0): 11, .init(topic: "orders", partition: 1): 12])
        #expect(restarted.describeClassicGroup("deleted") == nil)
        let live = try #require(restarted.describeClassicGroup("live"))
        #expect(live.state == "Stable")
        #expect(live.members.map(\.memberId) == [first.memberId])
        #expect(live.members.first?.assignment == [7])
        // The restored member carries on with its generation.
        #expect(
            restarted.heartbeat(groupId: "live", generationId: first.generationId, memberId: first.memberId, groupInstanceId: nil) == .none)
    }

    @Test func aPlainCommitAfterATransactionalOneWins() {
        let harness = Harness()
        _ = harness.coordinator.commitTransactionalOffsets(
            groupId: "g", producerId: 7, producerEpoch: 0, generationId: -1, memberId: "",
            groupInstanceId: nil, offsets: [offset(0, 10)])
        _ = simpleCommit(harness, [offset(0, 20)])
        #expect(
            harness.coordinator.fetchOffsets(groupId: "g", partitions: nil, memberId: nil, memberEpoch: -1, requireStable: true).unstable
                .count == 1)
        harness.coordinator.completeTransaction(
            producerId: 7, offsetsPartition: harness.coordinator.offsetsPartition(for: "g"), commit: true)
        #expect(
            harness.coordinator.fetchOffsets(groupId: "g", partitions: nil, memberId: nil, memberEpoch: -1).1.values.map(\.offset) == [20])
        // A transactional commit written after the plain one replaces it once committed.
        _ = harness.coordinator.commitTransactionalOffsets(
            groupId: "g", producerId: 7, producerEpoch: 0, generationId: -1, memberId: "",
            groupInstanceId: nil, offsets: [offset(0, 30)])
        harness.coordinator.completeTransaction(
            producerId: 7, offsetsPartition: harness.coordinator.offsetsPartition(for: "g"), commit: true)
        #expect(
            harness.coordinator.fetchOffsets(groupId: "g", partitions: nil, memberId: nil, memberEpoch: -1).1.values.map(\.offset) == [30])
    }

    @Test func groupsArePlacedLikeKafka() {
        // Java: "test-group".hashCode() == -1066466466... checked against Utils.abs and % 50.
        #expect(InternalTopic.partition(for: "", partitions: 50) == 0)
        #expect(InternalTopic.partition(for: "a", partitions: 50) == 97 % 50)
        #expect(InternalTopic.partition(for: "ab", partitions: 50) == (97 * 31 + 98) % 50)
    }
}
