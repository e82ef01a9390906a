// The classic rebalance protocol against a manual clock: joins, the barrier, syncs,
// heartbeats, leaves, session and rebalance timeouts, static members, stale generations.

import Coordinators
import KafkaProtocol
import Testing

@Suite struct ClassicGroupTests {
    /// Joins one member through MEMBER_ID_REQUIRED and a sync; returns its id and generation.
    func stableSingleMember(_ harness: Harness, group: String = "g") throws -> (String, Int32) {
        let first = try #require(harness.join(group, requireKnownMemberId: true).result)
        #expect(first.error == .memberIdRequired)
        #expect(first.memberId.hasPrefix("client-"))
        let joined = try #require(harness.join(group, memberId: first.memberId, requireKnownMemberId: true).result)
        #expect(joined.error == .none)
        #expect(joined.leader == first.memberId)
        #expect(joined.members.map(\.memberId) == [first.memberId])
        let synced = try #require(
            harness.sync(
                group, generation: joined.generationId, memberId: first.memberId,
                assignments: [(first.memberId, [1, 2, 3])]
            ).result)
        #expect(synced.error == .none && synced.protocolType == "consumer" && synced.protocolName == "range")
        #expect(synced.assignment == [1, 2, 3])
        return (first.memberId, joined.generationId)
    }

    @Test func firstMemberJoinsAndLeads() throws {
        let harness = Harness()
        let (member, generation) = try stableSingleMember(harness)
        #expect(generation == 1)
        #expect(harness.heartbeat(generation: generation, memberId: member) == .none)
        #expect(harness.coordinator.describeClassicGroup("g")?.state == "Stable")
        // The stable group's metadata went to __consumer_offsets.
        #expect(harness.log.records.count >= 1)
    }

    @Test func aSecondMemberTriggersARebalanceThatWaitsForEveryone() throws {
        let harness = Harness()
        let (first, generation) = try stableSingleMember(harness)
        let secondJoin = harness.join()
        #expect(secondJoin.result == nil)  // parked until the first member rejoins
        #expect(harness.heartbeat(generation: generation, memberId: first) == .rebalanceInProgress)
        let firstJoin = harness.join(memberId: first)
        let firstOutcome = try #require(firstJoin.result)
        let secondOutcome = try #require(secondJoin.result)
        #expect(firstOutcome.generationId == 2 && secondOutcome.generationId == 2)
        #expect(firstOutcome.leader == first && secondOutcome.leader == first)
        #expect(Set(firstOutcome.members.map(\.memberId)) == [first, secondOutcome.memberId])
        #expect(secondOutcome.members.isEmpty)
        // The follower's sync waits for the leader's assignment.
        let followerSync = harness.sync(generation: 2, memberId: secondOutcome.memberId)
        #expect(followerSync.result == nil)
        #expect(harness.heartbeat(generation: 2, memberId: secondOutcome.memberId) == .none)
        let leaderSync = harness.sync(generation: 2, memberId: first, assignments: [(first, [1]), (secondOutcome.memberId, [2])])
        #expect(leaderSync.result?.assignment == [1])
        #expect(followerSync.result?.assignment == [2])
    }

    @Test func aShutdownReleasesMembersWaitingAtABarrier() throws {
        let harness = Harness()
        let (first, generation) = try stableSingleMember(harness)
        let secondJoin = harness.join()
        #expect(secondJoin.result == nil)  // parked until the first member rejoins
        // Another group, its follower waiting in SyncGroup for the leader's assignment.
        let leader = try #require(harness.join("h").result)
        let followerJoin = harness.join("h")
        _ = harness.join("h", memberId: leader.memberId)
        let follower = try #require(followerJoin.result)
        let followerSync = harness.sync("h", generation: follower.generationId, memberId: follower.memberId)
        #expect(followerSync.result == nil)
        harness.coordinator.releaseWaitingMembers()
        #expect(secondJoin.result?.error == .notCoordinator)
        #expect(followerSync.result?.error == .notCoordinator)
        // The groups are left as they were: the first member is still in its generation.
        #expect(harness.heartbeat(generation: generation, memberId: first) == .rebalanceInProgress)
        // A join that comes later does not park either.
        #expect(harness.join(memberId: first).result?.error == .notCoordinator)
    }

    @Test func aSilentMemberIsExpiredAfterItsSessionTimeout() throws {
        let harness = Harness()
        let (first, _) = try stableSingleMember(harness)
        let secondJoin = harness.join()
        _ = harness.join(memberId: first)
        let second = try #require(secondJoin.result)
        _ = harness.sync(generation: 2, memberId: first, assignments: [])
        _ = harness.sync(generation: 2, memberId: second.memberId)
        harness.elapse(6_000)
        #expect(harness.heartbeat(generation: 2, memberId: first) == .none)  // only the second goes silent
        harness.elapse(5_000)
        #expect(harness.heartbeat(generation: 2, memberId: first) == .rebalanceInProgress)
        let rejoined = try #require(harness.join(memberId: first).result)
        #expect(rejoined.generationId == 3)
        #expect(rejoined.members.map(\.memberId) == [first])
        #expect(harness.heartbeat(generation: 2, memberId: second.memberId) == .unknownMemberId)
    }

    @Test func theRebalanceTimeoutDropsMembersThatDoNotRejoin() throws {
        let harness = Harness()
        let (first, _) = try stableSingleMember(harness)
        let secondJoin = harness.join(rebalance: 20_000)
        // The first member keeps heartbeating but never rejoins.
        for _ in 0..<3 {
            harness.elapse(5_000)
            #expect(harness.heartbeat(generation: 1, memberId: first) == .rebalanceInProgress)
        }
        #expect(secondJoin.result == nil)
        harness.elapse(16_000)
        let second = try #require(secondJoin.result)
        #expect(second.leader == second.memberId)
        #expect(second.members.map(\.memberId) == [second.memberId])
        #expect(harness.heartbeat(generation: 2, memberId: first) == .unknownMemberId)
    }

    @Test func aLeaderThatDiesWhileCompletingTheRebalanceSendsTheOthersBackToJoin() throws {
        let harness = Harness()
        let (leader, _) = try stableSingleMember(harness)
        let followerJoin = harness.join()
        _ = harness.join(memberId: leader)
        let follower = try #require(followerJoin.result)
        let followerSync = harness.sync(generation: 2, memberId: follower.memberId)
        #expect(followerSync.result == nil)
        harness.elapse(10_001)  // the leader never syncs nor heartbeats
        #expect(followerSync.result?.error == .rebalanceInProgress)
        let rejoined = try #require(harness.join(memberId: follower.memberId).result)
        #expect(rejoined.leader == follower.memberId)
        #expect(rejoined.generationId == 3)
    }

    @Test func staleGenerationsAndUnknownMembersAreRefused() throws {
        let harness = Harness()
        let (member, generation) = try stableSingleMember(harness)
        #expect(harness.heartbeat(generation: generation - 1, memberId: member) == .illegalGeneration)
        #expect(harness.heartbeat(generation: generation, memberId: "nobody") == .unknownMemberId)
        #expect(harness.heartbeat("other", generation: 1, memberId: member) == .unknownMemberId)
        #expect(harness.sync(generation: generation + 1, memberId: member).result?.error == .illegalGeneration)
        let commit = harness.coordinator.commitOffsets(
            groupId: "g", generationIdOrMemberEpoch: generation - 1, memberId: member,
            groupInstanceId: nil, retentionMilliseconds: -1, apiVersion: 8,
            offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 5, leaderEpoch: -1, metadata: nil)])
        #expect(commit == [.illegalGeneration])
    }

    @Test func leavingEmptiesTheGroupAndBumpsTheGeneration() throws {
        let harness = Harness()
        let (member, _) = try stableSingleMember(harness)
        let (error, members) = harness.coordinator.leave(groupId: "g", members: [(member, nil), ("ghost", nil)])
        #expect(error == .none)
        #expect(members == [.none, .unknownMemberId])
        let described = try #require(harness.coordinator.describeClassicGroup("g"))
        #expect(described.state == "Empty")
        #expect(described.members.isEmpty)
        #expect(harness.coordinator.deleteGroup("g") == .none)
        #expect(harness.coordinator.describeClassicGroup("g") == nil)
    }

    @Test func aStaticMemberRejoinsWithoutARebalance() throws {
        let harness = Harness()
        let first = try #require(harness.join(instanceId: "worker-1", requireKnownMemberId: false).result)
        #expect(first.error == .none)  // static members skip MEMBER_ID_REQUIRED
        #expect(first.memberId.hasPrefix("worker-1-"))
        _ = harness.sync(generation: 1, memberId: first.memberId, instanceId: "worker-1", assignments: [(first.memberId, [9])])
        // The process restarts and rejoins with the same instance id and no member id.
        let again = try #require(harness.join(instanceId: "worker-1").result)
        #expect(again.error == .none)
        #expect(again.memberId != first.memberId)
        #expect(again.generationId == 1)
        #expect(again.skipAssignment)
        #expect(harness.coordinator.describeClassicGroup("g")?.state == "Stable")
        #expect(harness.sync(generation: 1, memberId: again.memberId, instanceId: "worker-1").result?.assignment == [9])
        // The old incarnation is fenced.
        #expect(harness.heartbeat(generation: 1, memberId: first.memberId, instanceId: "worker-1") == .fencedInstanceId)
        let (_, results) = harness.coordinator.leave(groupId: "g", members: [(first.memberId, "worker-1")])
        #expect(results == [.fencedInstanceId])
    }

    @Test func membersThatNeverSyncAreDroppedAfterTheRebalanceTimeout() throws {
        let harness = Harness()
        let (leader, _) = try stableSingleMember(harness)
        let followerJoin = harness.join(rebalance: 20_000)
        _ = harness.join(memberId: leader, rebalance: 20_000)
        let follower = try #require(followerJoin.result)
        // The leader syncs; the follower keeps heartbeating but never sends SyncGroup.
        _ = harness.sync(generation: 2, memberId: leader, assignments: [])
        for _ in 0..<3 {
            harness.elapse(5_000)
            _ = harness.heartbeat(generation: 2, memberId: leader)
            #expect(harness.heartbeat(generation: 2, memberId: follower.memberId) == .none)
        }
        harness.elapse(5_001)
        #expect(harness.heartbeat(generation: 2, memberId: follower.memberId) == .unknownMemberId)
        #expect(harness.heartbeat(generation: 2, memberId: leader) == .rebalanceInProgress)
    }

    @Test func aStaticLeaderRejoiningNamesItsOldIdForOldClients() throws {
        let harness = Harness()
        let first = try #require(harness.join(instanceId: "lead").result)
        _ = harness.sync(generation: 1, memberId: first.memberId, instanceId: "lead", assignments: [(first.memberId, [1])])
        let again = try #require(harness.join(instanceId: "lead").result)
        #expect(again.skipAssignment && again.leader == again.memberId)
        #expect(again.leaderBeforeRejoin == first.memberId)
    }

    @Test func aStaleCommitDuringTheRebalanceIsIllegalNotRetriable() throws {
        let harness = Harness()
        let (leader, _) = try stableSingleMember(harness)
        let followerJoin = harness.join()
        _ = harness.join(memberId: leader)
        _ = try #require(followerJoin.result)
        let commit = { (generation: Int32, member: String) in
            harness.coordinator.commitOffsets(
                groupId: "g", generationIdOrMemberEpoch: generation, memberId: member, groupInstanceId: nil,
                retentionMilliseconds: -1, apiVersion: 8,
                offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 1, leaderEpoch: -1, metadata: nil)])
        }
        #expect(commit(1, leader) == [.illegalGeneration])
        #expect(commit(2, "zombie") == [.unknownMemberId])
        #expect(commit(2, leader) == [.rebalanceInProgress])
    }

    @Test func theGroupSizeLimitRefusesNewMembers() throws {
        var configuration = GroupConfiguration()
        configuration.maximumGroupSize = 1
        let harness = Harness(configuration: configuration)
        _ = try stableSingleMember(harness)
        #expect(harness.join(requireKnownMemberId: true).result?.error == .groupMaxSizeReached)
    }

    @Test func sessionTimeoutsOutsideTheBrokerRangeAreInvalid() {
        let harness = Harness()
        #expect(harness.join(session: 5_999).result?.error == .invalidSessionTimeout)
        #expect(harness.join(session: 1_800_001).result?.error == .invalidSessionTimeout)
    }

    @Test func theInitialRebalanceDelayGathersMembers() throws {
        var configuration = GroupConfiguration()
        configuration.initialRebalanceDelayMilliseconds = 3_000
        let harness = Harness(configuration: configuration)
        let first = harness.join()
        harness.elapse(2_000)
        let second = harness.join()
        harness.elapse(2_000)
        #expect(first.result == nil)  // the second member extended the delay
        harness.elapse(1_100)
        #expect(first.result?.generationId == 1)
        #expect(second.result?.generationId == 1)
        #expect(Set(try #require(first.result).members.map(\.memberId)).count == 2)
    }

    @Test func theProtocolIsChosenByVoteAndMustBeShared() throws {
        let harness = Harness()
        let first = harness.join(protocols: ["cooperative-sticky", "range"])
        let joined = try #require(first.result)
        let second = harness.join(protocols: ["range", "roundrobin"])
        _ = harness.join(memberId: joined.memberId, protocols: ["cooperative-sticky", "range"])
        #expect(second.result?.protocolName == "range")
        #expect(harness.join(protocols: ["roundrobin"]).result?.error == .inconsistentGroupProtocol)
    }

    @Test func describeAndListShowStateAndType() throws {
        let harness = Harness()
        _ = try stableSingleMember(harness)
        _ = harness.coordinator.commitOffsets(
            groupId: "standalone", generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil,
            retentionMilliseconds: -1, apiVersion: 8,
            offsets: [OffsetCommitInput(partition: .init(topic: "orders", partition: 0), offset: 1, leaderEpoch: -1, metadata: nil)])
        let all = harness.coordinator.listGroups(states: [], types: [])
        #expect(all.map(\.groupId) == ["g", "standalone"])
        #expect(all.map(\.state) == ["Stable", "Empty"])
        #expect(harness.coordinator.listGroups(states: ["stable"], types: []).map(\.groupId) == ["g"])
        #expect(harness.coordinator.listGroups(states: [], types: ["consumer"]).isEmpty)
        let described = try #require(harness.coordinator.describeClassicGroup("g"))
        #expect(described.protocolName == "range")
        #expect(described.members.first?.assignment == [1, 2, 3])
        #expect(harness.coordinator.deleteGroup("g") == .nonEmptyGroup)
        #expect(harness.coordinator.deleteGroup("missing") == .groupIdNotFound)
    }
}
