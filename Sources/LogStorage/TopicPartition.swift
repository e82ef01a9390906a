// The storage layer's name for one partition of one topic; its directory is Kafka's
// `<topic>-<partition>`.

public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var directoryName: String { "\(topic)-\(partition)" }
    public var description: String { directoryName }

    /// Parses a partition directory name; topic names may themselves contain '-'.
    public init?(directoryName: String) {
        guard let dash = directoryName.lastIndex(of: "-"),
              let partition = Int32(directoryName[directoryName.index(after: dash)...]), partition >= 0,
              dash > directoryName.startIndex else { return nil }
        self.init(topic: String(directoryName[..<dash]), partition: partition)
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}
