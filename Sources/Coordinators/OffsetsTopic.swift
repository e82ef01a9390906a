// The internal topic __consumer_offsets as the coordinator sees it: which partition holds a
// group, and the records it writes there, in Kafka's own key and value formats so that any
// client can read them. The log behind it is the broker's, reached through CoordinatorLog.

import KafkaProtocol
import KafkaWire

/// One record of a coordinator's internal topic; a nil value is a tombstone.
public struct CoordinatorRecord: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]?

    /// False when a part did not fit Kafka's format (see InternalTopic.encode).
    var isEncoded: Bool { !key.isEmpty && value?.isEmpty != true }
}

/// A record whose key or value does not fit Kafka's format: a client-chosen id longer than
/// the format's int16 string length. The write fails; the broker goes on.
public struct UnencodableCoordinatorRecord: Error, Equatable {}

/// The failures of the broker's writes that a coordinator answers differently from the rest
/// (which are all COORDINATOR_NOT_AVAILABLE or a retry).
public enum CoordinatorWriteError: Error, Equatable {
    /// The partition was deleted meanwhile: nothing is left to write to.
    case unknownPartition(TopicPartition)
    /// The log refused the producer's epoch: a transaction marker has moved past it.
    case fencedProducerEpoch
}

/// Where the coordinator's records go. The broker implements it over its partition logs.
public protocol CoordinatorLog: Sendable {
    /// Writes the records (value nil: a tombstone) to one partition of the internal topic;
    /// with a producer, as a transactional batch of it (TxnOffsetCommit), which throws
    /// `CoordinatorWriteError.fencedProducerEpoch` for an epoch fenced by the log.
    /// Coordinators call `append`, which refuses unencoded records first.
    func write(_ records: [CoordinatorRecord], partition: Int32, now: Int64, producer: (id: Int64, epoch: Int16)?) throws
    /// Calls `done` once every record written so far to `partition` is on the partition's
    /// in-sync replicas (NONE; at once where nothing is replicated), or with why it may not
    /// be: NOT_COORDINATOR (another broker leads it now) or COORDINATOR_NOT_AVAILABLE (not in
    /// time). On any thread, possibly before it returns.
    func whenReplicated(partition: Int32, _ done: @escaping @Sendable (ErrorCode) -> Void)
    /// How many partitions __consumer_offsets has; nil while it does not exist (then
    /// offsets.topic.num.partitions decides, as it will when it is created).
    var partitionCount: Int32? { get }
}

/// What both internal topics (__consumer_offsets, __transaction_state) share: Kafka's
/// placement of a key on a partition, and the framing of record keys and values.
public enum InternalTopic {
    /// The partition that holds `key` (a group id, a transactional id): Kafka's
    /// abs(key.hashCode()) % partitions, with Java's String.hashCode over UTF-16 units.
    public static func partition(for key: String, partitions: Int32) -> Int32 {
        var hash: Int32 = 0
        for unit in key.utf16 { hash = hash &* 31 &+ Int32(unit) }
        let positive = hash == Int32.min ? 0 : abs(hash)
        return positive % partitions
    }

    /// A record key or value: int16 version (for a key, the record type), then the message.
    /// Empty when the message does not fit its version: requests carry strings of up to
    /// 32,767 bytes, but an id made from one (a classic member id is the client id plus a
    /// UUID) can be longer than the formats' int16 strings. Such a record is refused by
    /// `CoordinatorLog.append`, so the request fails instead of the broker.
    static func encode<Message: KafkaMessage>(_ message: Message, version: Int16, messageVersion: Int16) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeInt16(version)
        do { try message.encode(into: &writer, version: messageVersion) } catch { return [] }
        return writer.bytes
    }
}

extension CoordinatorLog {
    public func append(
        _ records: [CoordinatorRecord], partition: Int32, now: Int64,
        producer: (id: Int64, epoch: Int16)? = nil
    ) throws {
        guard records.allSatisfy(\.isEncoded) else { throw UnencodableCoordinatorRecord() }
        try write(records, partition: partition, now: now, producer: producer)
    }
}

public enum OffsetsTopic {
    public static let name = "__consumer_offsets"

    // Key versions (the record type) and the value versions Kafka 4.x writes.
    static let offsetCommitKeyVersion: Int16 = 1
    static let groupMetadataKeyVersion: Int16 = 2
    static let consumerGroupMetadataKeyVersion: Int16 = 3
    static let consumerGroupMemberKeyVersion: Int16 = 5
    static let consumerGroupTargetAssignmentMetadataKeyVersion: Int16 = 6
    static let consumerGroupTargetAssignmentMemberKeyVersion: Int16 = 7
    static let consumerGroupCurrentAssignmentKeyVersion: Int16 = 8

    static func offsetCommit(group: String, topic: String, partition: Int32, offset: CommittedOffset?) -> CoordinatorRecord {
        let key = InternalTopic.encode(
            OffsetCommitKey(group: group, topic: topic, partition: partition), version: offsetCommitKeyVersion, messageVersion: 0)
        guard let offset else { return CoordinatorRecord(key: key, value: nil) }
        // Version 1 carries an explicit expiry (OffsetCommit v2-4 retention); 3 otherwise.
        let version: Int16 = offset.expireTimestamp == nil ? 3 : 1
        let value = OffsetCommitValue(
            offset: offset.offset, leaderEpoch: offset.leaderEpoch, metadata: offset.metadata,
            commitTimestamp: offset.commitTimestamp, expireTimestamp: offset.expireTimestamp ?? -1)
        return CoordinatorRecord(key: key, value: InternalTopic.encode(value, version: version, messageVersion: version))
    }

    static func consumerGroupMetadataKey(_ group: String) -> [UInt8] {
        InternalTopic.encode(ConsumerGroupMetadataKey(groupId: group), version: consumerGroupMetadataKeyVersion, messageVersion: 0)
    }

    static func groupMetadataKey(_ group: String) -> [UInt8] {
        InternalTopic.encode(GroupMetadataKey(group: group), version: groupMetadataKeyVersion, messageVersion: 0)
    }
}

/// One committed offset of a group.
public struct CommittedOffset: Sendable, Equatable {
    public var offset: Int64
    public var leaderEpoch: Int32
    public var metadata: String
    public var commitTimestamp: Int64
    /// Only from OffsetCommit v2-4 with a retention time.
    public var expireTimestamp: Int64?
    /// Where the commit stands in __consumer_offsets relative to the group's other commits
    /// (a transactional commit must not replace a later plain one).
    var writeOrder: Int64 = 0

    public init(offset: Int64, leaderEpoch: Int32 = -1, metadata: String = "", commitTimestamp: Int64, expireTimestamp: Int64? = nil) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.commitTimestamp = commitTimestamp
        self.expireTimestamp = expireTimestamp
    }
}
