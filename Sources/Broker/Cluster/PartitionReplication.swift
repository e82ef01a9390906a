// The leader's view of one partition's replicas (Kafka's Partition and its followers'
// replica state), sans IO and with the clock given: each follower's log end offset and when
// it was last caught up, the in-sync replicas, the high watermark they allow, and what
// acks=all and min.insync.replicas answer. The ISR changes it proposes are applied once the
// metadata store has taken them (a compare-and-swap), as Kafka's AlterPartition.

import KafkaProtocol

struct PartitionReplication: Equatable, Sendable {
    struct Follower: Equatable, Sendable {
        var logEndOffset: Int64 = 0
        /// The last time its fetch reached the leader's log end, or reached where the leader's
        /// log ended at its previous fetch (Kafka's lastCaughtUpTimeMs).
        var lastCaughtUpMilliseconds: Int64
        var lastFetchLeaderLogEndOffset: Int64 = 0
        var lastFetchMilliseconds: Int64 = 0
    }

    let leaderId: Int32
    /// Where the leader's current epoch began: a follower is caught up only past it.
    let leaderEpochStartOffset: Int64
    let replicaLagMaximumMilliseconds: Int64
    private(set) var inSyncReplicas: Set<Int32>
    private(set) var followers: [Int32: Follower]
    private(set) var leaderLogEndOffset: Int64
    /// What consumers may read; it never goes back.
    private(set) var highWatermark: Int64

    /// A leader of `replicas` taking over with its log ending at `logEndOffset`; its followers
    /// count as caught up now, so that none leaves the ISR before it could fetch.
    init(
        leaderId: Int32, replicas: [Int32], inSyncReplicas: Set<Int32>, logEndOffset: Int64, highWatermark: Int64,
        replicaLagMaximumMilliseconds: Int64, now: Int64
    ) {
        self.leaderId = leaderId
        leaderEpochStartOffset = logEndOffset
        self.replicaLagMaximumMilliseconds = replicaLagMaximumMilliseconds
        self.inSyncReplicas = inSyncReplicas.union([leaderId])
        followers = Dictionary(
            uniqueKeysWithValues: replicas.filter { $0 != leaderId }.map { ($0, Follower(lastCaughtUpMilliseconds: now)) })
        leaderLogEndOffset = logEndOffset
        self.highWatermark = highWatermark
    }

    /// The leader appended: its log now ends at `logEndOffset`. Alone in the ISR, that is the
    /// high watermark at once.
    mutating func leaderAppended(logEndOffset: Int64) {
        // Appending threads report after the log's lock is released, so possibly out of order.
        leaderLogEndOffset = max(leaderLogEndOffset, logEndOffset)
        advanceHighWatermark()
    }

    /// A follower fetched from `fetchOffset` (its log end) at `now`: Kafka's
    /// updateFetchState. Returns true when the follower should join the ISR (a proposal).
    @discardableResult
    mutating func followerFetched(_ id: Int32, fetchOffset: Int64, now: Int64) -> Bool {
        guard var follower = followers[id] else { return false }
        if fetchOffset >= leaderLogEndOffset {
            follower.lastCaughtUpMilliseconds = max(follower.lastCaughtUpMilliseconds, now)
        } else if fetchOffset >= follower.lastFetchLeaderLogEndOffset {
            follower.lastCaughtUpMilliseconds = max(follower.lastCaughtUpMilliseconds, follower.lastFetchMilliseconds)
        }
        follower.lastFetchLeaderLogEndOffset = leaderLogEndOffset
        follower.lastFetchMilliseconds = now
        follower.logEndOffset = fetchOffset
        followers[id] = follower
        advanceHighWatermark()
        return !inSyncReplicas.contains(id) && fetchOffset >= highWatermark && fetchOffset >= leaderEpochStartOffset
    }

    /// Followers of the ISR that have not caught up for replica.lag.time.max.ms: the ISR
    /// shrink to propose.
    func laggingReplicas(now: Int64) -> Set<Int32> {
        Set(
            followers.filter { id, follower in
                inSyncReplicas.contains(id) && follower.logEndOffset != leaderLogEndOffset
                    && now - follower.lastCaughtUpMilliseconds > replicaLagMaximumMilliseconds
            }.keys)
    }

    /// The ISR the metadata store now holds (after a shrink or an expansion it accepted).
    mutating func apply(inSyncReplicas updated: Set<Int32>) {
        inSyncReplicas = updated.union([leaderId])
        advanceHighWatermark()
    }

    /// The replicas the metadata store now holds (a reassignment adding or removing some): a
    /// new follower starts unknown, out of the ISR, as if caught up now.
    mutating func apply(replicas: [Int32], now: Int64) {
        for id in replicas where id != leaderId && followers[id] == nil { followers[id] = Follower(lastCaughtUpMilliseconds: now) }
        followers = followers.filter { replicas.contains($0.key) }
    }

    /// The smallest log end offset of the ISR, when it is past the high watermark.
    private mutating func advanceHighWatermark() {
        let lowest =
            inSyncReplicas.map { $0 == leaderId ? leaderLogEndOffset : followers[$0]?.logEndOffset ?? 0 }.min() ?? leaderLogEndOffset
        highWatermark = max(highWatermark, lowest)
    }

    /// Before an acks=all append: too few in-sync replicas refuse it (NOT_ENOUGH_REPLICAS), so
    /// that a retry cannot duplicate anything.
    func refusal(minimumInSyncReplicas: Int) -> ErrorCode? {
        inSyncReplicas.count < minimumInSyncReplicas ? .notEnoughReplicas : nil
    }

    /// After an acks=all append ending before `requiredOffset`: nil while the ISR has not all
    /// of it; then NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR that has it shrank
    /// below min.insync.replicas meanwhile (Kafka's checkEnoughReplicasReachOffset).
    func acknowledgement(requiredOffset: Int64, minimumInSyncReplicas: Int) -> ErrorCode? {
        guard highWatermark >= requiredOffset else { return nil }
        return inSyncReplicas.count >= minimumInSyncReplicas ? ErrorCode.none : .notEnoughReplicasAfterAppend
    }
}
