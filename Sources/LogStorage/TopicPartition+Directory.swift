// A partition's directory in the log: Kafka's `<topic>-<partition>`.

import KafkaWire

extension TopicPartition {
    public var directoryName: String { "\(topic)-\(partition)" }

    /// Parses a partition directory name; topic names may themselves contain '-'.
    public init?(directoryName: String) {
        guard let dash = directoryName.lastIndex(of: "-"),
            let partition = Int32(directoryName[directoryName.index(after: dash)...]), partition >= 0,
            dash > directoryName.startIndex
        else { return nil }
        self.init(topic: String(directoryName[..<dash]), partition: partition)
    }
}
