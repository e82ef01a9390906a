// Which partition a record goes to, as Kafka's clients choose: a keyed record by the murmur2
// hash of its key (so it lands where a Java producer would put it), an unkeyed one in turn.

import KafkaRecords

public struct Partitioner {
    private var next = 0

    public init() {}

    public mutating func partition(for key: [UInt8]?, partitions: Int) -> Int32 {
        guard partitions > 0 else { return 0 }
        guard let key else {
            defer { next &+= 1 }
            return Int32(next % partitions)
        }
        return Murmur2.partition(of: key, count: Int32(partitions))
    }
}
