// One partition of one topic: the name every layer shares (the log's directories, the
// coordinators' offsets and transactions, the handlers' answers).

public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Kafka's way of printing it: `<topic>-<partition>`.
    public var description: String { "\(topic)-\(partition)" }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}
