// A partition's leader epochs and the offset each began at (Kafka's leader-epoch-checkpoint,
// KIP-101), sans IO: what OffsetForLeaderEpoch answers, and where a follower that rejoins
// must cut its log so that a tail the new leader never had does not survive.

public struct LeaderEpochCache: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var epoch: Int32
        public var startOffset: Int64

        public init(epoch: Int32, startOffset: Int64) {
            self.epoch = epoch
            self.startOffset = startOffset
        }
    }

    /// Ascending by epoch and by start offset.
    public private(set) var entries: [Entry] = []

    public init() {}

    public var latestEpoch: Int32? { entries.last?.epoch }

    /// A new leader epoch starting at `startOffset` (the log end offset when the leader took
    /// over, or the first batch of the epoch a follower copied). An epoch already known, or
    /// older than the latest, is ignored; entries that start at or past it are dropped (a
    /// log truncated, then written by a newer leader). True when the cache changed.
    @discardableResult
    public mutating func assign(epoch: Int32, startOffset: Int64) -> Bool {
        if let latest = entries.last, epoch <= latest.epoch { return false }
        entries.removeAll { $0.startOffset >= startOffset }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
        return true
    }

    /// OffsetForLeaderEpoch, as Kafka's leader answers it: the latest epoch ends at the log
    /// end; an older one at the start of the next epoch this log knows, answered with the
    /// largest known epoch at or below it (or itself, when it predates them all); nil
    /// (UNDEFINED_EPOCH) for an epoch newer than any here, or none.
    public func endOffset(for epoch: Int32, logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64)? {
        guard epoch >= 0, let latest = entries.last, epoch <= latest.epoch else { return nil }
        if epoch == latest.epoch { return (epoch, logEndOffset) }
        let next = entries.firstIndex { $0.epoch > epoch }!
        return (next > 0 ? entries[next - 1].epoch : epoch, entries[next].startOffset)
    }

    /// The log was cut at `offset`: epochs that started at or past it are gone. True when the
    /// cache changed.
    @discardableResult
    public mutating func truncate(from offset: Int64) -> Bool {
        let before = entries.count
        entries.removeAll { $0.startOffset >= offset }
        return entries.count != before
    }

    /// Where a follower with this cache and `logEndOffset` must truncate before fetching,
    /// given the leader's answer to OffsetForLeaderEpoch for the follower's latest epoch:
    /// at the end of the last epoch both logs share (KIP-279: when the leader's epoch is older
    /// than ours, our own end of that epoch bounds it too), never past its own end. A leader
    /// that knows no epoch this old leaves only the follower's high watermark as safe, as
    /// Kafka falls back to. nil: keep everything.
    public func truncationOffset(leaderAnswer: (epoch: Int32, endOffset: Int64)?, logEndOffset: Int64, highWatermark: Int64) -> Int64? {
        let shared: Int64
        if let leaderAnswer {
            let ours = leaderAnswer.epoch == latestEpoch ? nil : endOffset(for: leaderAnswer.epoch, logEndOffset: logEndOffset)?.endOffset
            shared = min(leaderAnswer.endOffset, ours ?? leaderAnswer.endOffset)
        } else {
            shared = highWatermark
        }
        return shared < logEndOffset ? shared : nil
    }

    // MARK: The checkpoint file

    /// Kafka's leader-epoch-checkpoint text: a version line (0), the entry count, then one
    /// "epoch startOffset" line per entry.
    public var checkpointText: String {
        "0\n\(entries.count)\n" + entries.map { "\($0.epoch) \($0.startOffset)\n" }.joined()
    }

    /// Reads `checkpointText`; nil when it is not one (a torn or foreign file).
    public init?(checkpointText text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count == lines.count - 2 else { return nil }
        for line in lines.dropFirst(2) {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let epoch = Int32(fields[0]), let start = Int64(fields[1]), epoch >= 0, start >= 0,
                entries.last.map({ $0.epoch < epoch && $0.startOffset <= start }) ?? true
            else { return nil }
            entries.append(Entry(epoch: epoch, startOffset: start))
        }
    }
}
