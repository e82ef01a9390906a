// The replica state machine sans IO, with the clock given: the high watermark following the
// in-sync replicas, the ISR shrinking after replica.lag.time.max.ms and growing back when a
// follower catches up, acks=all and min.insync.replicas; leader epochs, OffsetForLeaderEpoch's
// answers and a rejoining follower's truncation (KIP-101's divergent-log scenarios).

import KafkaProtocol
import LogStorage
import Testing

@testable import Broker

@Suite struct ReplicationTests {
    static func leader(now: Int64 = 0) -> PartitionReplication {
        PartitionReplication(
            leaderId: 1, replicas: [1, 2, 3], inSyncReplicas: [1, 2, 3], logEndOffset: 0, highWatermark: 0,
            replicaLagMaximumMilliseconds: 30_000, now: now)
    }

    @Test func theHighWatermarkIsTheLowestLogEndOffsetOfTheISR() {
        var partition = Self.leader()
        partition.leaderAppended(logEndOffset: 10)
        #expect(partition.highWatermark == 0)  // the followers have nothing yet
        partition.followerFetched(2, fetchOffset: 10, now: 100)
        #expect(partition.highWatermark == 0)
        partition.followerFetched(3, fetchOffset: 6, now: 100)
        #expect(partition.highWatermark == 6)
        partition.followerFetched(3, fetchOffset: 10, now: 200)
        #expect(partition.highWatermark == 10)
        // A follower's fetch from an older offset (it truncated) never moves it back.
        partition.followerFetched(3, fetchOffset: 4, now: 300)
        #expect(partition.highWatermark == 10)
    }

    @Test func aFollowerThatStopsLeavesTheISRAndCatchesBackIn() {
        var partition = Self.leader()
        partition.leaderAppended(logEndOffset: 5)
        partition.followerFetched(2, fetchOffset: 5, now: 1_000)
        partition.followerFetched(3, fetchOffset: 5, now: 1_000)
        #expect(partition.highWatermark == 5)
        // Follower 3 stops while the leader takes more; past the lag time it is out of sync.
        partition.leaderAppended(logEndOffset: 20)
        partition.followerFetched(2, fetchOffset: 20, now: 10_000)
        #expect(partition.laggingReplicas(now: 30_000).isEmpty)
        #expect(partition.laggingReplicas(now: 31_001) == [3])
        partition.apply(inSyncReplicas: [1, 2])
        #expect(partition.highWatermark == 20)  // the ISR without 3 has all of it
        // Behind the high watermark it is not proposed back; caught up to it, it is.
        let behind = partition.followerFetched(3, fetchOffset: 12, now: 32_000)
        let caughtUp = partition.followerFetched(3, fetchOffset: 20, now: 33_000)
        #expect(!behind && caughtUp)
        partition.apply(inSyncReplicas: [1, 2, 3])
        #expect(partition.inSyncReplicas == [1, 2, 3])
    }

    /// Kafka's rule: a follower fetching steadily but never quite at the end (a busy leader)
    /// is caught up as long as each fetch reaches where the leader ended at its previous one.
    @Test func aFollowerKeepingPaceUnderLoadStaysInSync() {
        var partition = Self.leader()
        var end: Int64 = 0
        for step in 1...100 {
            let fetched = end
            end += 10
            partition.leaderAppended(logEndOffset: end)
            partition.followerFetched(2, fetchOffset: fetched, now: Int64(step) * 1_000)
            partition.followerFetched(3, fetchOffset: fetched, now: Int64(step) * 1_000)
        }
        #expect(partition.laggingReplicas(now: 100_000).isEmpty)
        #expect(partition.highWatermark == end - 10)
    }

    @Test func acksAllWaitsForTheISRAndMinInsyncReplicasRefuses() {
        var partition = Self.leader()
        #expect(partition.refusal(minimumInSyncReplicas: 2) == nil)
        partition.leaderAppended(logEndOffset: 3)
        #expect(partition.acknowledgement(requiredOffset: 3, minimumInSyncReplicas: 2) == nil)  // not everywhere yet
        partition.followerFetched(2, fetchOffset: 3, now: 1)
        partition.followerFetched(3, fetchOffset: 3, now: 1)
        #expect(partition.acknowledgement(requiredOffset: 3, minimumInSyncReplicas: 2) == ErrorCode.none)
        // The ISR shrinks to the leader alone: its appends are acknowledged by it alone, but
        // below min.insync.replicas acks=all is refused before, or after, the append.
        partition.apply(inSyncReplicas: [1])
        #expect(partition.refusal(minimumInSyncReplicas: 2) == .notEnoughReplicas)
        partition.leaderAppended(logEndOffset: 4)
        #expect(partition.acknowledgement(requiredOffset: 4, minimumInSyncReplicas: 2) == .notEnoughReplicasAfterAppend)
        #expect(partition.acknowledgement(requiredOffset: 4, minimumInSyncReplicas: 1) == ErrorCode.none)
    }

    @Test func leaderEpochsAnswerOffsetForLeaderEpoch() {
        var cache = LeaderEpochCache()
        cache.assign(epoch: 0, startOffset: 0)
        cache.assign(epoch: 2, startOffset: 10)
        cache.assign(epoch: 1, startOffset: 5)  // older than the latest: ignored
        cache.assign(epoch: 4, startOffset: 25)
        #expect(cache.endOffset(for: 0, logEndOffset: 40)! == (0, 10))
        #expect(cache.endOffset(for: 3, logEndOffset: 40)! == (2, 25))  // epoch 3 never led: 2's end
        #expect(cache.endOffset(for: 4, logEndOffset: 40)! == (4, 40))
        #expect(cache.endOffset(for: 9, logEndOffset: 40) == nil)  // newer than any here: UNDEFINED
        #expect(cache.endOffset(for: -1, logEndOffset: 40) == nil)
        cache.truncate(from: 20)
        #expect(cache.entries.map(\.epoch) == [0, 2])
        // A new leader's epoch starting where a truncated tail began replaces what started there.
        cache.assign(epoch: 5, startOffset: 15)
        #expect(cache.entries == [.init(epoch: 0, startOffset: 0), .init(epoch: 2, startOffset: 10), .init(epoch: 5, startOffset: 15)])
    }

    /// KIP-101's scenario: the old leader wrote offsets 10..14 in epoch 1 that no follower had;
    /// the new leader (epoch 2) wrote 10..19 of its own. The rejoining broker keeps 0..9.
    @Test func aRejoiningFollowerTruncatesItsDivergentTail() {
        var newLeader = LeaderEpochCache()
        newLeader.assign(epoch: 0, startOffset: 0)
        newLeader.assign(epoch: 2, startOffset: 10)
        var rejoining = LeaderEpochCache()
        rejoining.assign(epoch: 0, startOffset: 0)
        rejoining.assign(epoch: 1, startOffset: 10)
        let answer = newLeader.endOffset(for: rejoining.latestEpoch!, logEndOffset: 20)
        #expect(answer! == (0, 10))
        #expect(rejoining.truncationOffset(leaderAnswer: answer, logEndOffset: 15, highWatermark: 8) == 10)
        // The same epoch on both sides, the follower behind: nothing to cut.
        #expect(newLeader.truncationOffset(leaderAnswer: (2, 20), logEndOffset: 18, highWatermark: 10) == nil)
        // The follower ahead in the same epoch (the leader lost its unflushed tail): cut to the leader's end.
        #expect(newLeader.truncationOffset(leaderAnswer: (2, 16), logEndOffset: 18, highWatermark: 10) == 16)
        // A leader that knows no epoch this old: only the follower's high watermark is safe.
        #expect(rejoining.truncationOffset(leaderAnswer: nil, logEndOffset: 15, highWatermark: 8) == 8)
    }

    /// The controller's elections: the preferred replica when live and in sync, a live
    /// in-sync replica for a leader that is gone, an out-of-sync one only when unclean
    /// election is allowed (the ISR then restarts from it), each in a new leader epoch.
    @Test func leaderElectionsFollowKafkasRules() throws {
        var state = PartitionState(replicas: [1, 2, 3])
        state.leader = 2
        state.leaderEpoch = 4
        state.inSyncReplicas = [2, 3]
        #expect(LeaderElection.preferred.elect(state, live: [1, 2, 3]) == .failure(.preferredLeaderNotAvailable))  // 1 not in sync
        state.inSyncReplicas = [1, 2, 3]
        let preferred = try LeaderElection.preferred.elect(state, live: [1, 2, 3]).get()
        #expect(preferred.leader == 1 && preferred.leaderEpoch == 5 && preferred.inSyncReplicas == [1, 2, 3])
        #expect(LeaderElection.preferred.elect(preferred, live: [1, 2, 3]) == .failure(.notNeeded))
        #expect(LeaderElection.preferred.elect(state, live: [2, 3]) == .failure(.preferredLeaderNotAvailable))
        #expect(LeaderElection.offline(unclean: false).elect(state, live: [1, 2, 3]) == .failure(.notNeeded))
        // Leader 2 gone: the first live in-sync replica in replica order.
        #expect(try LeaderElection.offline(unclean: false).elect(state, live: [3, 1]).get().leader == 1)
        state.inSyncReplicas = [2]
        #expect(LeaderElection.offline(unclean: false).elect(state, live: [1, 3]) == .failure(.eligibleLeadersNotAvailable))
        let unclean = try LeaderElection.offline(unclean: true).elect(state, live: [3]).get()
        #expect(unclean.leader == 3 && unclean.inSyncReplicas == [3] && unclean.leaderEpoch == 5)
        #expect(LeaderElection.offline(unclean: true).elect(state, live: []) == .failure(.eligibleLeadersNotAvailable))
    }
}
