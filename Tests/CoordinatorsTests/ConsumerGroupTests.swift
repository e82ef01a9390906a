// KIP-848's consumer protocol against a manual clock: joining, the revoke-before-reassign
// reconciliation, leaving, fencing and expiry, subscription by regex, and the assignors.

import KafkaProtocol
import KafkaWire
import Synchronization
import Testing

@testable import Coordinators

@Suite struct ConsumerGroupTests {
    func heartbeat(
        _ harness: Harness, member: String, epoch: Int32, topics: [String]? = nil, regex: String? = nil,
        owned: [(String, [Int32])]? = nil, assignor: String? = nil, instance: String? = nil
    ) -> ConsumerHeartbeatOutcome {
        let ownedById = owned.map { $0.map { (harness.topics.topics[$0.0]!.id, $0.1) } }
        return harness.coordinator.consumerGroupHeartbeat(
            ConsumerHeartbeatInput(
                groupId: "cg", memberId: member, memberEpoch: epoch, instanceId: instance, rackId: nil,
                rebalanceTimeoutMilliseconds: epoch == 0 ? 30_000 : -1, subscribedTopicNames: topics, subscribedTopicRegex: regex,
                serverAssignor: assignor, ownedPartitions: ownedById ?? (epoch == 0 ? [] : nil), clientId: "client",
                clientHost: "/127.0.0.1"))
    }

    func partitions(_ outcome: ConsumerHeartbeatOutcome) -> [Int32]? {
        outcome.assignment.map { $0.flatMap(\.partitions).sorted() }
    }

    @Test func aLoneMemberGetsEveryPartition() {
        let harness = Harness(topics: ["orders": 4])
        let joined = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        #expect(joined.error == .none)
        #expect(joined.memberEpoch == 1)
        #expect(partitions(joined) == [0, 1, 2, 3])
        #expect(joined.heartbeatIntervalMilliseconds == 5_000)
        // Nothing changed: the next heartbeat carries no assignment.
        let again = heartbeat(harness, member: "a", epoch: 1)
        #expect(again.memberEpoch == 1 && again.assignment == nil)
        #expect(harness.coordinator.describeConsumerGroup("cg")?.state == "Stable")
    }

    @Test func partitionsAreRevokedBeforeAnotherMemberReceivesThem() {
        let harness = Harness(topics: ["orders": 4])
        _ = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        let second = heartbeat(harness, member: "b", epoch: 0, topics: ["orders"])
        #expect(second.memberEpoch == 2)
        #expect(partitions(second) == [])  // a still owns everything
        #expect(harness.coordinator.describeConsumerGroup("cg")?.state == "Reconciling")
        // a is told to give two up and stays at epoch 1 until it confirms.
        let revoke = heartbeat(harness, member: "a", epoch: 1, owned: [("orders", [0, 1, 2, 3])])
        #expect(revoke.memberEpoch == 1)
        let kept = partitions(revoke)!
        #expect(kept.count == 2)
        #expect(partitions(heartbeat(harness, member: "b", epoch: 2)) == nil)
        let confirmed = heartbeat(harness, member: "a", epoch: 1, owned: [("orders", kept)])
        #expect(confirmed.memberEpoch == 2)
        let received = heartbeat(harness, member: "b", epoch: 2)
        #expect(partitions(received) == [0, 1, 2, 3].filter { !kept.contains($0) })
        #expect(harness.coordinator.describeConsumerGroup("cg")?.state == "Stable")
    }

    @Test func aLeavingMemberReleasesItsPartitions() {
        let harness = Harness(topics: ["orders": 4])
        _ = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        _ = heartbeat(harness, member: "b", epoch: 0, topics: ["orders"])
        let left = heartbeat(harness, member: "a", epoch: -1)
        #expect(left.error == .none && left.memberEpoch == -1)
        let all = heartbeat(harness, member: "b", epoch: 2)
        #expect(all.memberEpoch == 3)
        #expect(partitions(all) == [0, 1, 2, 3])
    }

    @Test func epochsAreFencedAndUnknownMembersRefused() {
        let harness = Harness(topics: ["orders": 4])
        _ = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        #expect(heartbeat(harness, member: "a", epoch: 7).error == .fencedMemberEpoch)
        #expect(heartbeat(harness, member: "z", epoch: 1).error == .unknownMemberId)
        #expect(heartbeat(harness, member: "a", epoch: 0, topics: ["orders"], assignor: "sticky").error == .unsupportedAssignor)
        #expect(heartbeat(harness, member: "b", epoch: 0, regex: "orders[").error == .invalidRegularExpression)
        let commit = harness.coordinator.commitOffsets(
            groupId: "cg", generationIdOrMemberEpoch: 0, memberId: "a", groupInstanceId: nil,
            retentionMilliseconds: -1, apiVersion: 9,
            offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 3, leaderEpoch: -1, metadata: nil)])
        #expect(commit == [.staleMemberEpoch])
        let good = harness.coordinator.commitOffsets(
            groupId: "cg", generationIdOrMemberEpoch: 1, memberId: "a", groupInstanceId: nil,
            retentionMilliseconds: -1, apiVersion: 9,
            offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 3, leaderEpoch: -1, metadata: nil)])
        #expect(good == [.none])
        // The classic protocol cannot join a consumer group.
        let classic = harness.join("cg")
        #expect(classic.result?.error == .inconsistentGroupProtocol)
    }

    @Test func aConsumerGroupIsRebuiltByReplay() throws {
        let harness = Harness(topics: ["orders": 4])
        _ = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"], assignor: "range")
        _ = heartbeat(harness, member: "b", epoch: 0, topics: ["orders"], assignor: "range")
        let revoking = heartbeat(harness, member: "a", epoch: 1, owned: [("orders", [0, 1, 2, 3])])
        _ = heartbeat(harness, member: "a", epoch: 1, owned: [("orders", partitions(revoking)!)])
        _ = heartbeat(harness, member: "b", epoch: 2)
        let before = try #require(harness.coordinator.describeConsumerGroup("cg"))
        #expect(before.state == "Stable")

        let restarted = harness.restarted()
        let after = try #require(restarted.describeConsumerGroup("cg"))
        #expect(after.groupEpoch == before.groupEpoch && after.assignmentEpoch == before.assignmentEpoch)
        #expect(after.members.map(\.memberId) == ["a", "b"])
        #expect(after.members.map(\.assignment) == before.members.map(\.assignment))
        #expect(after.members.map(\.targetAssignment) == before.members.map(\.targetAssignment))
        #expect(after.members.map(\.subscribedTopicNames) == [["orders"], ["orders"]])
        // The members carry on at their epochs: no rejoin, no new assignment.
        let input = { (member: String) in
            ConsumerHeartbeatInput(
                groupId: "cg", memberId: member, memberEpoch: 2, instanceId: nil, rackId: nil, rebalanceTimeoutMilliseconds: -1,
                subscribedTopicNames: nil, subscribedTopicRegex: nil, serverAssignor: nil, ownedPartitions: nil,
                clientId: "client", clientHost: "/127.0.0.1")
        }
        let carriedOn = restarted.consumerGroupHeartbeat(input("a"))
        #expect(carriedOn.error == .none && carriedOn.memberEpoch == 2 && carriedOn.assignment == nil)
        // A member that leaves after the restart stays gone after the next one.
        var leave = input("b")
        leave.memberEpoch = -1
        #expect(restarted.consumerGroupHeartbeat(leave).error == .none)
        let again = Harness.replay(
            harness.log,
            into: GroupCoordinator(
                configuration: GroupConfiguration(), log: MemoryCoordinatorLog(),
                topics: harness.topics, clock: { 0 }))
        #expect(again.describeConsumerGroup("cg")?.members.map(\.memberId) == ["a"])
    }

    @Test func silentMembersAreFencedAfterTheSessionTimeout() {
        let harness = Harness(topics: ["orders": 2])
        _ = heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        _ = heartbeat(harness, member: "b", epoch: 0, topics: ["orders"])
        harness.elapse(40_000)
        _ = heartbeat(harness, member: "b", epoch: 2)
        harness.elapse(6_000)
        #expect(heartbeat(harness, member: "a", epoch: 1).error == .unknownMemberId)
        let survivor = heartbeat(harness, member: "b", epoch: 2)
        #expect(partitions(survivor) == [0, 1])
    }

    @Test func aRegexSubscriptionFollowsMatchingTopics() {
        let harness = Harness(topics: ["orders": 1, "orders-eu": 2, "payments": 1])
        let joined = heartbeat(harness, member: "a", epoch: 0, regex: "orders.*")
        #expect(joined.assignment?.map(\.topicName) == ["orders", "orders-eu"])
        #expect(partitions(joined) == [0, 0, 1])
    }

    @Test func regexesAreResolvedOffTheHeartbeatAndTheGroupFollowsOnTheNextTick() {
        let queued = Mutex<[@Sendable () -> Void]>([])
        let topics = FixedTopics(["orders": 2, "payments": 1])
        let log = MemoryCoordinatorLog()
        let coordinator = GroupCoordinator(
            configuration: GroupConfiguration(), log: log, topics: topics, clock: { 0 },
            resolveRegexes: { work in queued.withLock { $0.append(work) } })
        func heartbeat(epoch: Int32, regex: String? = nil) -> ConsumerHeartbeatOutcome {
            coordinator.consumerGroupHeartbeat(
                ConsumerHeartbeatInput(
                    groupId: "cg", memberId: "a", memberEpoch: epoch, instanceId: nil, rackId: nil,
                    rebalanceTimeoutMilliseconds: epoch == 0 ? 30_000 : -1, subscribedTopicNames: nil, subscribedTopicRegex: regex,
                    serverAssignor: nil, ownedPartitions: epoch == 0 ? [] : nil, clientId: "client", clientHost: "/127.0.0.1"))
        }
        // The heartbeat does not wait for the resolution: it answers with what is known (nothing).
        let joined = heartbeat(epoch: 0, regex: "ord.*")
        #expect(joined.error == .none && (joined.assignment ?? []).isEmpty)
        #expect(queued.withLock { $0.count } == 1)
        // Heartbeats meanwhile queue nothing more.
        #expect(heartbeat(epoch: joined.memberEpoch).error == .none)
        for work in queued.withLock({ $0 }) { work() }
        coordinator.expireDeadlines()
        let next = heartbeat(epoch: joined.memberEpoch)
        #expect(next.memberEpoch > joined.memberEpoch)
        #expect(next.assignment?.map(\.topicName) == ["orders"])
    }

    @Test func aPatternTooCostlyToResolveIsRefused() {
        // (.*){1000}x0 compiles, but matching it against 249-character names costs a
        // thousand states per character: the resolution stops at its budget.
        var partitions: [String: Int32] = [:]
        for index in 0..<50 { partitions[String(repeating: "t", count: 240) + String(index)] = 1 }
        var configuration = GroupConfiguration()
        configuration.maximumRegexResolutionSteps = 1_000_000  // the default would take seconds in a debug build
        let harness = Harness(configuration: configuration, topics: partitions)
        let joined = heartbeat(harness, member: "a", epoch: 0, regex: "(.*){1000}x0")
        #expect(joined.error == .none && (joined.assignment ?? []).isEmpty)
        // Once the resolution is refused, a member that keeps the pattern is refused at every
        // heartbeat, and a new one at once; a cheap pattern still works.
        let refused = heartbeat(harness, member: "a", epoch: joined.memberEpoch)
        #expect(refused.error == .invalidRegularExpression)
        #expect(refused.errorMessage?.contains("use a simpler pattern") == true)
        #expect(heartbeat(harness, member: "c", epoch: 0, regex: "(.*){1000}x0").error == .invalidRegularExpression)
        #expect(heartbeat(harness, member: "b", epoch: 0, regex: "t+1").error == .none)
    }

    @Test func rangeGivesContiguousRangesPerTopic() {
        let result = ServerAssignor.range(
            AssignmentSpec(subscriptions: ["a": ["t"], "b": ["t"], "c": ["t"]], partitionCounts: ["t": 7], current: [:]))
        #expect(result["a"] == ["t": [0, 1, 2]])
        #expect(result["b"] == ["t": [3, 4]])
        #expect(result["c"] == ["t": [5, 6]])
    }

    @Test func uniformBalancesAndKeepsPartitionsWhereTheyAre() {
        let spec = AssignmentSpec(
            subscriptions: ["a": ["t", "u"], "b": ["t", "u"], "c": ["t"]],
            partitionCounts: ["t": 6, "u": 3], current: ["a": ["t": [0, 1, 2, 3, 4, 5], "u": [0, 1, 2]]])
        let result = ServerAssignor.uniform(spec)
        let counts = ["a", "b", "c"].map { member in result[member]!.values.reduce(0) { $0 + $1.count } }
        #expect(counts.reduce(0, +) == 9)
        #expect(counts.max()! - counts.min()! <= 1)
        #expect(result["c"]!.keys.allSatisfy { $0 == "t" })
        // a keeps only partitions it already had.
        #expect(result["a"]!.allSatisfy { topic, partitions in partitions.isSubset(of: spec.current["a"]![topic]!) })
        // Every partition exactly once.
        var seen: [String: [Int32]] = [:]
        for assignment in result.values { for (topic, partitions) in assignment { seen[topic, default: []] += partitions } }
        #expect(seen["t"]!.sorted() == Array(0..<6))
        #expect(seen["u"]!.sorted() == Array(0..<3))
    }
}

@Suite struct GroupHandOverTests {
    @Test func aStaticMemberThatLeavesForNowGetsItsPartitionsBack() throws {
        let harness = Harness(topics: ["orders": 2])
        let tests = ConsumerGroupTests()
        _ = tests.heartbeat(harness, member: "a", epoch: 0, topics: ["orders"], instance: "i-1")
        _ = tests.heartbeat(harness, member: "b", epoch: 0, topics: ["orders"])
        let revoking = tests.heartbeat(harness, member: "a", epoch: 1, owned: [("orders", [0, 1])])
        _ = tests.heartbeat(harness, member: "a", epoch: 1, owned: [("orders", tests.partitions(revoking)!)])
        _ = tests.heartbeat(harness, member: "b", epoch: 2)
        let held = try #require(harness.coordinator.describeConsumerGroup("cg")?.members.first { $0.memberId == "a" }?.assignment)
        let epochBefore = try #require(harness.coordinator.describeConsumerGroup("cg")?.groupEpoch)
        #expect(tests.heartbeat(harness, member: "a", epoch: -2).memberEpoch == -2)
        // Its instance id is reserved meanwhile for a static rejoin only.
        let back = tests.heartbeat(harness, member: "a2", epoch: 0, topics: ["orders"], instance: "i-1")
        #expect(back.error == .none && back.memberEpoch == 2)
        #expect(back.assignment?.flatMap(\.partitions) == held.flatMap(\.partitions))
        let group = try #require(harness.coordinator.describeConsumerGroup("cg"))
        #expect(group.groupEpoch == epochBefore)
        #expect(group.members.map(\.memberId) == ["a2", "b"])
        // A second holder of the same instance id is refused while the first is active.
        #expect(tests.heartbeat(harness, member: "a3", epoch: 0, topics: ["orders"], instance: "i-1").error == .unreleasedInstanceId)
        // The takeover is what a restart sees.
        #expect(harness.restarted().describeConsumerGroup("cg")?.members.map(\.memberId) == ["a2", "b"])
    }

    @Test func anEmptyConsumerGroupGivesWayToAClassicOne() throws {
        let harness = Harness(topics: ["orders": 2])
        let tests = ConsumerGroupTests()
        _ = tests.heartbeat(harness, member: "a", epoch: 0, topics: ["orders"])
        #expect(
            harness.coordinator.commitOffsets(
                groupId: "cg", generationIdOrMemberEpoch: 1, memberId: "a", groupInstanceId: nil,
                retentionMilliseconds: -1, apiVersion: 9,
                offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 8, leaderEpoch: -1, metadata: nil)])
                == [.none])
        _ = tests.heartbeat(harness, member: "a", epoch: -1)
        let classic = try #require(harness.join("cg").result)
        #expect(classic.error == .none && classic.generationId == 1)
        #expect(
            harness.coordinator.fetchOffsets(groupId: "cg", partitions: nil, memberId: nil, memberEpoch: -1).1.values.map(\.offset) == [8])
        #expect(harness.coordinator.listGroups(states: [], types: []).map(\.type) == ["classic"])
        // A heartbeat with an epoch above 0 does not turn it back.
        #expect(tests.heartbeat(harness, member: "z", epoch: 3).error != .none)
        #expect(harness.restarted().listGroups(states: [], types: []).map(\.type) == ["classic"])
    }
}
