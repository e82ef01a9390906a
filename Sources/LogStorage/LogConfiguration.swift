// Per-topic log settings, with Kafka's names and defaults (topic-level names in comments).

public enum CleanupPolicy: String, Sendable, CaseIterable {
    case delete
    case compact
    case compactAndDelete = "compact,delete"

    public var deletes: Bool { self != .compact }
    public var compacts: Bool { self != .delete }

    /// Kafka accepts "compact,delete" in either order.
    public init?(kafkaValue: String) {
        let parts = Set(kafkaValue.lowercased().split(separator: ",").map { $0.filter { !$0.isWhitespace } })
        switch parts {
        case ["delete"]: self = .delete
        case ["compact"]: self = .compact
        case ["compact", "delete"]: self = .compactAndDelete
        default: return nil
        }
    }
}

public enum TimestampPolicy: String, Sendable {
    case createTime = "CreateTime"
    case logAppendTime = "LogAppendTime"
}

public struct LogConfiguration: Sendable, Equatable {
    /// segment.bytes
    public var segmentBytes: Int64 = 1 << 30
    /// segment.ms (7 days)
    public var segmentMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// index.interval.bytes
    public var indexIntervalBytes = 4_096
    /// retention.ms (7 days; -1 keeps forever)
    public var retentionMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// retention.bytes (-1: no size limit)
    public var retentionBytes: Int64 = -1
    /// cleanup.policy
    public var cleanupPolicy: CleanupPolicy = .delete
    /// delete.retention.ms: how long tombstones survive compaction (1 day)
    public var deleteRetentionMilliseconds: Int64 = 24 * 3_600_000
    /// min.compaction.lag.ms: records younger than this stay as written.
    public var minimumCompactionLagMilliseconds: Int64 = 0
    /// max.compaction.lag.ms: dirty records older than this are cleaned whatever the ratio.
    public var maximumCompactionLagMilliseconds: Int64 = .max
    /// min.cleanable.dirty.ratio: how much of the cleanable log must be new since the last
    /// pass before compaction rereads it.
    public var minimumCleanableDirtyRatio = 0.5
    /// message.timestamp.type
    public var timestampPolicy: TimestampPolicy = .createTime
    /// max.message.bytes (Kafka 4.x default: 1 MiB + 12 bytes of log overhead)
    public var maximumBatchBytes = 1_048_588
    /// message.timestamp.before.max.ms / after.max.ms: how far a CreateTime timestamp may lie
    /// in the past or the future of the broker's clock.
    public var timestampBeforeMaxMilliseconds: Int64 = .max
    public var timestampAfterMaxMilliseconds: Int64 = 3_600_000
    /// min.insync.replicas: how many in-sync replicas an acks=all write needs (one node has one).
    public var minimumInSyncReplicas: Int32 = 1

    public init() {}

    /// How old the active segment may grow: segment.ms, or max.compaction.lag.ms when a
    /// compacted topic's is shorter (Kafka rolls so that such records can be cleaned).
    public var rollMilliseconds: Int64 {
        cleanupPolicy.compacts && maximumCompactionLagMilliseconds > 0
            ? min(segmentMilliseconds, maximumCompactionLagMilliseconds) : segmentMilliseconds
    }
}

/// When appended data is forced to disk. Kafka's default leaves it to the page cache,
/// which survives a killed process (not a power cut).
public enum FlushPolicy: Sendable, Equatable {
    case never
    case everyMilliseconds(Int)
    case everyAppend
}
