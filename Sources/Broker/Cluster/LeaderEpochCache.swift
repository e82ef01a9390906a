// A partition's leader epochs and the offset each began at (Kafka's leader-epoch-checkpoint,
// KIP-101), sans IO: what OffsetForLeaderEpoch answers, and where a follower that rejoins
// must cut its log so that a tail the new leader never had does not survive.

struct LeaderEpochCache: Equatable, Sendable {
    struct Entry: Equatable, Sendable {
        var epoch: Int32
        var startOffset: Int64
    }

    /// Ascending by epoch and by start offset.
    private(set) var entries: [Entry] = []

    var latestEpoch: Int32? { entries.last?.epoch }

    /// A new leader epoch starting at `startOffset` (the log end offset when the leader took
    /// over, or the first batch of the epoch a follower copied). An epoch already known, or
    /// older than the latest, is ignored; entries that start at or past it are dropped (a
    /// log truncated, then written by a newer leader).
    mutating func assign(epoch: Int32, startOffset: Int64) {
        if let latest = entries.last, epoch <= latest.epoch { return }
        entries.removeAll { $0.startOffset >= startOffset }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
    }

    /// OffsetForLeaderEpoch: for `epoch`, the largest epoch at or below it that this log knows
    /// and where that epoch ends (the next epoch's start, or the log end offset for the
    /// latest); nil (UNDEFINED_EPOCH) when the log knows no epoch that old.
    func endOffset(for epoch: Int32, logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64)? {
        guard let index = entries.lastIndex(where: { $0.epoch <= epoch }) else { return nil }
        let end = index + 1 < entries.count ? entries[index + 1].startOffset : logEndOffset
        return (entries[index].epoch, end)
    }

    /// The log was cut at `offset`: epochs that started at or past it are gone.
    mutating func truncate(from offset: Int64) {
        entries.removeAll { $0.startOffset >= offset }
    }

    /// Where a follower with this cache and `logEndOffset` must truncate before fetching,
    /// given the leader's answer to OffsetForLeaderEpoch for the follower's latest epoch:
    /// at the end of the last epoch both logs share (KIP-279: when the leader's epoch is older
    /// than ours, our own end of that epoch bounds it too), never past its own end. A leader
    /// that knows no epoch this old leaves only the follower's high watermark as safe, as
    /// Kafka falls back to. nil: keep everything.
    func truncationOffset(leaderAnswer: (epoch: Int32, endOffset: Int64)?, logEndOffset: Int64, highWatermark: Int64) -> Int64? {
        let shared: Int64
        if let leaderAnswer {
            let ours = leaderAnswer.epoch == latestEpoch ? nil : endOffset(for: leaderAnswer.epoch, logEndOffset: logEndOffset)?.endOffset
            shared = min(leaderAnswer.endOffset, ours ?? leaderAnswer.endOffset)
        } else {
            shared = highWatermark
        }
        return shared < logEndOffset ? shared : nil
    }
}
