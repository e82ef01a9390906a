// Idempotent-producer state of one partition: per producer id, its epoch and its last five
// batches, with Kafka's rules (ProducerStateEntry / ProducerAppendInfo): an older epoch is
// fenced, a new epoch starts at sequence 0, sequences follow each other (wrapping at
// Int32.max), and a retry of one of the last five batches is answered with its original
// offset instead of being appended again. Transactional producers also have an open
// transaction from their first transactional batch to the marker that ends it; the first
// offset of the oldest open one is where read_committed readers stop (the LSO).

import KafkaRecords
import KafkaWire
import SystemCalls

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
        /// The first offset of the producer's open transaction.
        var currentTransactionFirstOffset: Int64?
        /// The max timestamp of its last batch (DescribeProducers).
        var lastTimestamp: Int64 = -1
        var lastSequence: Int32 { batches.last?.lastSequence ?? -1 }
    }

    /// Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN.
    static let retainedBatches = 5

    fileprivate(set) var entries: [Int64: Entry] = [:]
    /// Producer id -> first offset of its open transaction: the few entries the LSO needs.
    private(set) var openTransactions: [Int64: Int64] = [:]

    /// The first offset of the oldest open transaction; nil when none is open.
    var firstUnstableOffset: Int64? { openTransactions.values.min() }

    enum Verdict: Equatable {
        /// Append it.
        case append
        /// Already in the log: answer with these offsets, append nothing.
        case duplicate(firstOffset: Int64, lastOffset: Int64)
    }

    /// Checks a batch before it is written.
    func check(_ header: RecordBatchHeader) -> Result<Verdict, SequenceError> {
        guard header.producerId >= 0, let entry = entries[header.producerId] else {
            // No state (new producer, or its batches were deleted): any sequence starts it,
            // as Kafka 4.x accepts for idempotent producers (KIP-360).
            return .success(.append)
        }
        let sequenced = header.baseSequence >= 0 && !header.isControl
        // An older epoch is fenced: idempotent batches, markers from a coordinator that has
        // since fenced it, and a coordinator's unsequenced transactional writes (TxnOffsetCommit).
        if header.producerEpoch < entry.epoch && (sequenced || header.isControl || header.isTransactional) {
            return .failure(.invalidProducerEpoch(current: entry.epoch, received: header.producerEpoch))
        }
        guard sequenced else { return .success(.append) }
        let lastSequence = Self.lastSequence(of: header)
        if header.producerEpoch == entry.epoch,
            let duplicate = entry.batches.first(where: { $0.firstSequence == header.baseSequence && $0.lastSequence == lastSequence })
        {
            return .success(.duplicate(firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset))
        }
        if header.producerEpoch > entry.epoch {
            return header.baseSequence == 0 ? .success(.append) : .failure(.outOfOrderSequence(expected: 0, received: header.baseSequence))
        }
        let expected = entry.lastSequence == Int32.max ? 0 : entry.lastSequence + 1
        return header.baseSequence == expected
            ? .success(.append) : .failure(.outOfOrderSequence(expected: expected, received: header.baseSequence))
    }

    /// Forgets producers whose last batch is `expiration` ms old or older and that have no
    /// open transaction (Kafka's producer.id.expiration.ms); returns how many.
    mutating func removeExpired(now: Int64, expiration: Int64) -> Int {
        let expired = entries.filter { _, entry in
            entry.currentTransactionFirstOffset == nil && now.clampedSubtracting(entry.lastTimestamp) >= expiration
        }.keys
        for producerId in expired { entries[producerId] = nil }
        return expired.count
    }

    /// Records an appended (or, during rebuild, a stored) batch with its assigned offsets.
    mutating func record(_ header: RecordBatchHeader) {
        // Sequenced batches (idempotent producers) and transactional ones without a sequence
        // (a coordinator's TxnOffsetCommit records) have state; control batches end it.
        guard header.producerId >= 0, !header.isControl, header.baseSequence >= 0 || header.isTransactional else { return }
        let batch =
            header.baseSequence >= 0
            ? BatchMetadata(
                firstSequence: header.baseSequence, lastSequence: Self.lastSequence(of: header),
                firstOffset: header.baseOffset, lastOffset: header.lastOffset)
            : nil
        var entry: Entry
        if var existing = entries[header.producerId], existing.epoch == header.producerEpoch {
            if let batch { existing.batches.append(batch) }
            if existing.batches.count > Self.retainedBatches { existing.batches.removeFirst(existing.batches.count - Self.retainedBatches) }
            entry = existing
        } else if (entries[header.producerId]?.epoch ?? Int16.min) < header.producerEpoch {
            entry = Entry(
                epoch: header.producerEpoch, batches: batch.map { [$0] } ?? [],
                currentTransactionFirstOffset: entries[header.producerId]?.currentTransactionFirstOffset)
        } else {
            return
        }
        entry.lastTimestamp = header.maxTimestamp
        if header.isTransactional && entry.currentTransactionFirstOffset == nil {
            entry.currentTransactionFirstOffset = header.baseOffset
        }
        set(header.producerId, entry)
    }

    /// A COMMIT or ABORT marker: ends the producer's open transaction (a marker of a newer
    /// epoch, from a coordinator that fenced the producer, moves the epoch on too). Returns
    /// the first offset of the transaction it ended, if one was open.
    mutating func endTransaction(_ header: RecordBatchHeader) -> Int64? {
        guard header.producerId >= 0 else { return nil }
        var entry = entries[header.producerId] ?? Entry(epoch: header.producerEpoch, batches: [])
        let first = entry.currentTransactionFirstOffset
        entry.currentTransactionFirstOffset = nil
        if header.producerEpoch > entry.epoch {
            entry.epoch = header.producerEpoch
            entry.batches = []
        }
        // The marker's time, as Kafka stamps it: its expiration counts from here.
        entry.lastTimestamp = max(entry.lastTimestamp, header.maxTimestamp)
        set(header.producerId, entry)
        return first
    }

    func entry(for producerId: Int64) -> Entry? { entries[producerId] }

    /// Puts back a producer's entry as it was before a failed append (nil: it had none).
    mutating func restore(_ producerId: Int64, _ entry: Entry?) { set(producerId, entry) }

    private mutating func set(_ producerId: Int64, _ entry: Entry?) {
        entries[producerId] = entry
        openTransactions[producerId] = entry?.currentTransactionFirstOffset
    }

    /// Forgets producers whose batches all lie below the log start offset, unless a
    /// transaction of theirs is still open.
    mutating func dropBefore(_ offset: Int64) {
        entries = entries.filter { ($0.value.batches.last?.lastOffset ?? -1) >= offset || $0.value.currentTransactionFirstOffset != nil }
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
/// offset, then (version 2) int64 first offset of the open transaction (-1: none) and int64
/// last timestamp; a CRC32C of all that closes the file. Version 1 files still load.
extension ProducerState {
    static let snapshotVersion: Int16 = 2

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
            writer.writeInt64(entry.currentTransactionFirstOffset ?? -1)
            writer.writeInt64(entry.lastTimestamp)
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
            let version = try reader.readInt16()
            guard version == 1 || version == snapshotVersion else { return nil }
            let offset = try reader.readInt64()
            let count = try reader.readInt32()
            var state = ProducerState()
            for _ in 0..<max(count, 0) {
                let producerId = try reader.readInt64()
                let epoch = try reader.readInt16()
                let batchCount = try reader.readInt8()
                var batches: [BatchMetadata] = []
                for _ in 0..<max(batchCount, 0) {
                    batches.append(
                        BatchMetadata(
                            firstSequence: try reader.readInt32(), lastSequence: try reader.readInt32(),
                            firstOffset: try reader.readInt64(), lastOffset: try reader.readInt64()))
                }
                var entry = Entry(epoch: epoch, batches: batches)
                if version >= 2 {
                    let first = try reader.readInt64()
                    entry.currentTransactionFirstOffset = first >= 0 ? first : nil
                    entry.lastTimestamp = try reader.readInt64()
                }
                state.set(producerId, entry)
            }
            return reader.isAtEnd ? (state, offset) : nil
        } catch {
            return nil
        }
    }
}
