// The group coordinator's settings, by Kafka's server.properties names, with Kafka's
// defaults except group.initial.rebalance.delay.ms (0: a dev broker should not make the
// first consumer wait three seconds).

public struct GroupConfiguration: Sendable {
    /// group.min.session.timeout.ms and group.max.session.timeout.ms
    public var minimumSessionTimeoutMilliseconds: Int32 = 6_000
    public var maximumSessionTimeoutMilliseconds: Int32 = 1_800_000
    /// group.initial.rebalance.delay.ms (Kafka: 3000)
    public var initialRebalanceDelayMilliseconds: Int64 = 0
    /// group.max.size
    public var maximumGroupSize: Int = Int(Int32.max)
    /// offset.metadata.max.bytes
    public var offsetMetadataMaximumBytes = 4_096
    /// offsets.retention.minutes, in milliseconds
    public var offsetsRetentionMilliseconds: Int64 = 7 * 24 * 60 * 60 * 1_000
    /// offsets.retention.check.interval.ms
    public var offsetsRetentionCheckIntervalMilliseconds: Int64 = 600_000
    /// offsets.topic.num.partitions
    public var offsetsTopicPartitions: Int32 = 50
    /// group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms (KIP-848)
    public var consumerSessionTimeoutMilliseconds: Int32 = 45_000
    public var consumerHeartbeatIntervalMilliseconds: Int32 = 5_000
    /// group.consumer.max.size
    public var consumerMaximumGroupSize: Int = Int(Int32.max)
    /// group.consumer.assignors: the first is the default.
    public var consumerAssignors = ["uniform", "range"]
    /// The work one resolution of a regex subscription may take, in NFA steps over every
    /// topic name (about half a second of one core); a pattern that needs more is refused
    /// with INVALID_REGULAR_EXPRESSION rather than holding the resolver for seconds.
    public var maximumRegexResolutionSteps = 20_000_000

    public init() {}
}
