// Idempotent-producer state of one partition: per producer id, its epoch and its last five
// batches, with Kafka's rules (ProducerStateEntry / ProducerAppendInfo): an older epoch is
// fenced, a new epoch starts at sequence 0, sequences follow each other (wrapping at
// Int32.max), and a retry of one of the last five batches is answered with its original
// offset instead of being appended again.

import KafkaRecords
import KafkaWire

public enum SequenceError: Error, Equatable, Sendable {
    /// INVALID_PRODUCER_EPOCH (47): an epoch older than the producer's current one.
    case invalidProducerEpoch(current: Int16, received: Int16)
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45): a gap, or a new epoch not starting at 0.
    case outOfOrderSequence(expected: Int32, received: Int32)
}

struct ProducerState {
    struct BatchMetadata: Equatable {
        var firstSequence: Int32
        var lastSequence: Int32
        var firstOffset: Int64
        var lastOffset: Int64
    }

    struct Entry: Equatable {
        var epoch: Int16
        /// Newest last; at most `retainedBatches`.
        var batches: [BatchMetadata]
        var lastSequence: Int32 { batches.last?.lastSequence ?? -1 }
    }

    /// Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN.
    static let retainedBatches = 5

    fileprivate(set) var entries: [Int64: Entry] = [:]

    enum Verdict: Equatable {
        /// Append it.
        case append
        /// Already in the log: answer with these offsets, append nothing.
        case duplicate(firstOffset: Int64, lastOffset: Int64)
    }

    /// Checks a batch before it is written.
    func check(_ header: RecordBatchHeader) -> Result<Verdict, SequenceError> {
        guard header.producerId >= 0, header.baseSequence >= 0, !header.isControl else { return .success(.append) }
        guard let entry = entries[header.producerId] else {
            // No state (new producer, or its batches were deleted): any sequence starts it,
            // as Kafka 4.x accepts for idempotent producers (KIP-360).
            return .success(.append)
        }
        let lastSequence = Self.lastSequence(of: header)
        if header.producerEpoch < entry.epoch {
            return .failure(.invalidProducerEpoch(current: entry.epoch, received: header.producerEpoch))
        }
        if header.producerEpoch == entry.epoch,
           let duplicate = entry.batches.first(where: { $0.firstSequence == header.baseSequence && $0.lastSequence == lastSequence }) {
            return .success(.duplicate(firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset))
        }
        if header.producerEpoch > entry.epoch {
            return header.baseSequence == 0 ? .success(.append) : .failure(.outOfOrderSequence(expected: 0, received: header.baseSequence))
        }
        let expected = entry.lastSequence == Int32.max ? 0 : entry.lastSequence + 1
        return header.baseSequence == expected ? .success(.append) : .failure(.outOfOrderSequence(expected: expected, received: header.baseSequence))
    }

    /// Records an appended (or, during rebuild, a stored) batch with its assigned offsets.
    mutating func record(_ header: RecordBatchHeader) {
        guard header.producerId >= 0, header.baseSequence >= 0, !header.isControl else { return }
        let batch = BatchMetadata(firstSequence: header.baseSequence, lastSequence: Self.lastSequence(of: header),
                                  firstOffset: header.baseOffset, lastOffset: header.lastOffset)
        if var entry = entries[header.producerId], entry.epoch == header.producerEpoch {
            entry.batches.append(batch)
            if entry.batches.count > Self.retainedBatches { entry.batches.removeFirst(entry.batches.count - Self.retainedBatches) }
            entries[header.producerId] = entry
        } else if (entries[header.producerId]?.epoch ?? Int16.min) < header.producerEpoch {
            entries[header.producerId] = Entry(epoch: header.producerEpoch, batches: [batch])
        }
    }

    func entry(for producerId: Int64) -> Entry? { entries[producerId] }

    /// Puts back a producer's entry as it was before a failed append (nil: it had none).
    mutating func restore(_ producerId: Int64, _ entry: Entry?) { entries[producerId] = entry }

    /// Forgets producers whose batches all lie below the log start offset.
    mutating func dropBefore(_ offset: Int64) {
        entries = entries.filter { ($0.value.batches.last?.lastOffset ?? -1) >= offset }
    }

    /// Sequences wrap from Int32.max to 0.
    static func lastSequence(of header: RecordBatchHeader) -> Int32 {
        Int32(truncatingIfNeeded: (Int64(header.baseSequence) + Int64(header.lastOffsetDelta)) % (Int64(Int32.max) + 1))
    }
}

// MARK: Snapshots

/// The producer state as of an offset, kept in `<offset>.snapshot` beside the segments
/// (Kafka's naming) so a restart replays only the batches after it. Our own layout:
/// int16 version, int64 offset, int32 producer count, then per producer int64 id, int16
/// epoch, int8 batch count and per batch int32 first and last sequence, int64 first and last
/// offset; a CRC32C of all that closes the file.
extension ProducerState {
    static let snapshotVersion: Int16 = 1

    func snapshot(at offset: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + entries.count * 64)
        writer.writeInt16(Self.snapshotVersion)
        writer.writeInt64(offset)
        writer.writeInt32(Int32(entries.count))
        for (producerId, entry) in entries.sorted(by: { $0.key < $1.key }) {
            writer.writeInt64(producerId)
            writer.writeInt16(entry.epoch)
            writer.writeInt8(Int8(entry.batches.count))
            for batch in entry.batches {
                writer.writeInt32(batch.firstSequence)
                writer.writeInt32(batch.lastSequence)
                writer.writeInt64(batch.firstOffset)
                writer.writeInt64(batch.lastOffset)
            }
        }
        writer.writeUInt32(CRC32C.checksum(writer.bytes))
        return writer.takeBytes()
    }

    /// Reads a snapshot; nil when it is damaged or of another version (then the log is
    /// replayed from its start instead).
    static func load(snapshot bytes: [UInt8]) -> (state: ProducerState, offset: Int64)? {
        guard bytes.count >= 4 else { return nil }
        let body = Array(bytes.dropLast(4))
        var crcReader = ByteReader(bytes, range: bytes.count - 4..<bytes.count)
        guard let crc = try? crcReader.readUInt32(), crc == CRC32C.checksum(body) else { return nil }
        var reader = ByteReader(body)
        do {
            guard try reader.readInt16() == snapshotVersion else { return nil }
            let offset = try reader.readInt64()
            let count = try reader.readInt32()
            var state = ProducerState()
            for _ in 0..<max(count, 0) {
                let producerId = try reader.readInt64()
                let epoch = try reader.readInt16()
                let batchCount = try reader.readInt8()
                var batches: [BatchMetadata] = []
                for _ in 0..<max(batchCount, 0) {
                    batches.append(BatchMetadata(firstSequence: try reader.readInt32(), lastSequence: try reader.readInt32(),
                                                 firstOffset: try reader.readInt64(), lastOffset: try reader.readInt64()))
                }
                state.entries[producerId] = Entry(epoch: epoch, batches: batches)
            }
            return reader.isAtEnd ? (state, offset) : nil
        } catch {
            return nil
        }
    }
}
