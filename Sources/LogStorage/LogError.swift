// Why a log operation failed, in terms the broker maps to Kafka error codes.

import KafkaRecords
import KafkaWire
import SystemCalls

public enum LogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// OFFSET_OUT_OF_RANGE
    case offsetOutOfRange(requested: Int64, logStartOffset: Int64, logEndOffset: Int64)
    /// A batch at `index` in the request that is not what it claims (bad CRC, magic, codec
    /// stream or record count); the broker picks Kafka's code from the reason.
    case invalidBatch(index: Int, RecordBatchError)
    /// INVALID_RECORD: records without a key on a compacted topic, by index in their batch
    /// (at most `PartitionLog.maximumListedRecordErrors`).
    case keylessRecords([Int32])
    /// MESSAGE_TOO_LARGE: a batch over max.message.bytes.
    case batchTooLarge(size: Int, limit: Int)
    /// INVALID_TIMESTAMP: a CreateTime timestamp outside message.timestamp.{before,after}.max.ms.
    case invalidTimestamp(timestamp: Int64, now: Int64)
    /// KAFKA_STORAGE_ERROR
    case io(SystemCallError)
    /// Found while recovering a segment that should have been sound.
    case corruptSegment(path: String, position: Int64, reason: String)
    /// Another broker process holds the data directory.
    case dataDirectoryLocked(String)
    /// An idempotent producer's batch out of sequence or from a fenced epoch.
    case sequence(SequenceError)
    case partitionExists(TopicPartition)
    case unknownPartition(TopicPartition)
    /// Partitions a shutdown could not close cleanly, each with why.
    case unclosedPartitions([String])

    public var description: String {
        switch self {
        case .offsetOutOfRange(let requested, let start, let end):
            return "offset \(requested) is outside the log [\(start), \(end)]"
        case .invalidBatch(let index, let error): return "batch \(index): \(error)"
        case .keylessRecords(let indexes): return "\(indexes.count) record(s) without a key on a compacted topic"
        case .batchTooLarge(let size, let limit): return "batch of \(size) bytes exceeds max.message.bytes \(limit)"
        case .invalidTimestamp(let timestamp, let now): return "timestamp \(timestamp) is too far from the broker's time \(now)"
        case .io(let error): return error.description
        case .corruptSegment(let path, let position, let reason): return "corrupt segment \(path) at byte \(position): \(reason)"
        case .dataDirectoryLocked(let path):
            return "data directory \(path) is in use by another process (its .lock is held)"
        case .sequence(let error): return "producer sequence: \(error)"
        case .partitionExists(let partition): return "partition \(partition) already exists"
        case .unknownPartition(let partition): return "no partition \(partition)"
        case .unclosedPartitions(let failures):
            return "\(failures.count) partition(s) not closed cleanly (recovered on the next start): "
                + failures.prefix(5).joined(separator: "; ") + (failures.count > 5 ? "; ..." : "")
        }
    }
}
