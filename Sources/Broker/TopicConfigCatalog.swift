// Every topic-level config Kafka 4.x documents, with its type, default and the broker key
// it falls back to (its synonym): DescribeConfigs lists them, AlterConfigs validates
// against them. Only some change how Swiftlet's log behaves (TopicConfigs.keys); the rest
// are accepted and stored, as a Kafka broker would, and are marked as such in the README.

enum ConfigType: Int8, Sendable {
    case boolean = 1
    case string = 2
    case int = 3
    case short = 4
    case long = 5
    case double = 6
    case list = 7
    case `class` = 8
    case password = 9
}

struct TopicConfigEntry: Sendable {
    let name: String
    let type: ConfigType
    let defaultValue: String
    /// The broker config that sets the default for every topic.
    let brokerSynonym: String?
    /// For string configs with a fixed set of values.
    var allowed: [String]? = nil

    func validate(_ value: String) -> Bool {
        switch type {
        case .boolean: return value == "true" || value == "false"
        case .int: return Int32(value) != nil
        case .short: return Int16(value) != nil
        case .long: return Int64(value) != nil
        case .double: return Double(value) != nil
        case .list:
            if let allowed { return value.split(separator: ",").allSatisfy { allowed.contains($0.trimmed) } }
            return true
        default:
            if let allowed { return allowed.contains(value) }
            return true
        }
    }
}

enum TopicConfigCatalog {
    static let entries: [TopicConfigEntry] = [
        .init(
            name: "cleanup.policy", type: .list, defaultValue: "delete", brokerSynonym: "log.cleanup.policy",
            allowed: ["delete", "compact"]),
        .init(name: "compression.gzip.level", type: .int, defaultValue: "-1", brokerSynonym: "compression.gzip.level"),
        .init(name: "compression.lz4.level", type: .int, defaultValue: "9", brokerSynonym: "compression.lz4.level"),
        .init(
            name: "compression.type", type: .string, defaultValue: "producer", brokerSynonym: "compression.type",
            allowed: ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
        .init(name: "compression.zstd.level", type: .int, defaultValue: "3", brokerSynonym: "compression.zstd.level"),
        .init(name: "delete.retention.ms", type: .long, defaultValue: "86400000", brokerSynonym: "log.cleaner.delete.retention.ms"),
        .init(name: "file.delete.delay.ms", type: .long, defaultValue: "60000", brokerSynonym: "log.segment.delete.delay.ms"),
        .init(name: "flush.messages", type: .long, defaultValue: "9223372036854775807", brokerSynonym: "log.flush.interval.messages"),
        .init(name: "flush.ms", type: .long, defaultValue: "9223372036854775807", brokerSynonym: "log.flush.interval.ms"),
        .init(name: "index.interval.bytes", type: .int, defaultValue: "4096", brokerSynonym: "log.index.interval.bytes"),
        .init(name: "local.retention.bytes", type: .long, defaultValue: "-2", brokerSynonym: "log.local.retention.bytes"),
        .init(name: "local.retention.ms", type: .long, defaultValue: "-2", brokerSynonym: "log.local.retention.ms"),
        .init(
            name: "max.compaction.lag.ms", type: .long, defaultValue: "9223372036854775807",
            brokerSynonym: "log.cleaner.max.compaction.lag.ms"),
        .init(name: "max.message.bytes", type: .int, defaultValue: "1048588", brokerSynonym: "message.max.bytes"),
        .init(
            name: "message.timestamp.after.max.ms", type: .long, defaultValue: "3600000",
            brokerSynonym: "log.message.timestamp.after.max.ms"),
        .init(
            name: "message.timestamp.before.max.ms", type: .long, defaultValue: "9223372036854775807",
            brokerSynonym: "log.message.timestamp.before.max.ms"),
        .init(
            name: "message.timestamp.type", type: .string, defaultValue: "CreateTime", brokerSynonym: "log.message.timestamp.type",
            allowed: ["CreateTime", "LogAppendTime"]),
        .init(name: "min.cleanable.dirty.ratio", type: .double, defaultValue: "0.5", brokerSynonym: "log.cleaner.min.cleanable.ratio"),
        .init(name: "min.compaction.lag.ms", type: .long, defaultValue: "0", brokerSynonym: "log.cleaner.min.compaction.lag.ms"),
        .init(name: "min.insync.replicas", type: .int, defaultValue: "1", brokerSynonym: "min.insync.replicas"),
        .init(name: "preallocate", type: .boolean, defaultValue: "false", brokerSynonym: "log.preallocate"),
        .init(name: "remote.storage.enable", type: .boolean, defaultValue: "false", brokerSynonym: nil),
        .init(name: "retention.bytes", type: .long, defaultValue: "-1", brokerSynonym: "log.retention.bytes"),
        .init(name: "retention.ms", type: .long, defaultValue: "604800000", brokerSynonym: "log.retention.ms"),
        .init(name: "segment.bytes", type: .int, defaultValue: "1073741824", brokerSynonym: "log.segment.bytes"),
        .init(name: "segment.index.bytes", type: .int, defaultValue: "10485760", brokerSynonym: "log.index.size.max.bytes"),
        .init(name: "segment.jitter.ms", type: .long, defaultValue: "0", brokerSynonym: "log.roll.jitter.ms"),
        .init(name: "segment.ms", type: .long, defaultValue: "604800000", brokerSynonym: "log.roll.ms"),
        .init(
            name: "unclean.leader.election.enable", type: .boolean, defaultValue: "false", brokerSynonym: "unclean.leader.election.enable"),
    ]

    static let byName: [String: TopicConfigEntry] = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
}
