// Topic-level configs (Kafka's names) mapped onto the log's settings, with validation that
// answers CreateTopics and AlterConfigs with INVALID_CONFIG for unknown keys or bad values.

import LogStorage

public enum TopicConfigs {
    /// Keys a topic may override, each applied to a LogConfiguration.
    static let keys: [String: @Sendable (inout LogConfiguration, String) -> Bool] = [
        "cleanup.policy": { configuration, value in
            guard let policy = CleanupPolicy(kafkaValue: value) else { return false }
            configuration.cleanupPolicy = policy
            return true
        },
        "retention.ms": { configuration, value in setInt64(&configuration.retentionMilliseconds, value, minimum: -1) },
        "retention.bytes": { configuration, value in setInt64(&configuration.retentionBytes, value, minimum: -1) },
        "segment.bytes": { configuration, value in setInt64(&configuration.segmentBytes, value, minimum: 14) },
        "segment.ms": { configuration, value in setInt64(&configuration.segmentMilliseconds, value, minimum: 1) },
        "delete.retention.ms": { configuration, value in setInt64(&configuration.deleteRetentionMilliseconds, value, minimum: 0) },
        "min.compaction.lag.ms": { configuration, value in setInt64(&configuration.minimumCompactionLagMilliseconds, value, minimum: 0) },
        "max.compaction.lag.ms": { configuration, value in setInt64(&configuration.maximumCompactionLagMilliseconds, value, minimum: 1) },
        "min.cleanable.dirty.ratio": { configuration, value in
            guard let ratio = Double(value), (0...1).contains(ratio) else { return false }
            configuration.minimumCleanableDirtyRatio = ratio
            return true
        },
        "message.timestamp.before.max.ms": { configuration, value in
            setInt64(&configuration.timestampBeforeMaxMilliseconds, value, minimum: 0)
        },
        "message.timestamp.after.max.ms": { configuration, value in
            setInt64(&configuration.timestampAfterMaxMilliseconds, value, minimum: 0)
        },
        "index.interval.bytes": { configuration, value in
            guard let number = Int(value), number >= 0 else { return false }
            configuration.indexIntervalBytes = number
            return true
        },
        "max.message.bytes": { configuration, value in
            guard let number = Int(value), number >= 0 else { return false }
            configuration.maximumBatchBytes = number
            return true
        },
        "min.insync.replicas": { configuration, value in
            guard let number = Int32(value), number >= 1 else { return false }
            configuration.minimumInSyncReplicas = number
            return true
        },
        "message.timestamp.type": { configuration, value in
            guard let policy = TimestampPolicy(rawValue: value) else { return false }
            configuration.timestampPolicy = policy
            return true
        },
    ]

    private static func setInt64(_ target: inout Int64, _ value: String, minimum: Int64) -> Bool {
        guard let number = Int64(value), number >= minimum else { return false }
        target = number
        return true
    }

    /// The log settings for a topic: broker defaults, then its overrides. Returns the first
    /// key that is unknown or has a bad value.
    public static func apply(_ overrides: [String: String], to defaults: LogConfiguration) -> Result<LogConfiguration, InvalidConfig> {
        var configuration = defaults
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let entry = TopicConfigCatalog.byName[key] else {
                return .failure(InvalidConfig(key: key, value: value, reason: "unknown topic config"))
            }
            guard entry.validate(value) else { return .failure(InvalidConfig(key: key, value: value, reason: "invalid value")) }
            // Configs the log does not act on are kept (and described) all the same.
            if let setter = keys[key], !setter(&configuration, value) {
                return .failure(InvalidConfig(key: key, value: value, reason: "invalid value"))
            }
        }
        // Kafka's LogConfig.validateValues: the two compaction lags must not cross.
        if configuration.minimumCompactionLagMilliseconds > configuration.maximumCompactionLagMilliseconds {
            return .failure(
                InvalidConfig(
                    key: "min.compaction.lag.ms", value: String(configuration.minimumCompactionLagMilliseconds),
                    reason: "must not exceed max.compaction.lag.ms=\(configuration.maximumCompactionLagMilliseconds)"))
        }
        return .success(configuration)
    }

    public struct InvalidConfig: Error, Equatable, CustomStringConvertible {
        public let key: String
        public let value: String
        public let reason: String
        public var description: String { "\(reason): \(key)=\(value)" }
    }
}
