// Idempotent-producer state of one partition: per producer id, its epoch and its last five
// batches, with Kafka's rules (ProducerStateEntry / ProducerAppendInfo): an older epoch is
// fenced, a new epoch starts at sequence 0, sequences follow each other (wrapping at
// Int32.max), and a retry of one of the last five batches is answered with its original
// offset instead of being appended again.

import KafkaRecords

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

    private(set) var entries: [Int64: Entry] = [:]

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

    /// Forgets producers whose batches all lie below the log start offset.
    mutating func dropBefore(_ offset: Int64) {
        entries = entries.filter { ($0.value.batches.last?.lastOffset ?? -1) >= offset }
    }

    /// Sequences wrap from Int32.max to 0.
    static func lastSequence(of header: RecordBatchHeader) -> Int32 {
        Int32(truncatingIfNeeded: (Int64(header.baseSequence) + Int64(header.lastOffsetDelta)) % (Int64(Int32.max) + 1))
    }
}
