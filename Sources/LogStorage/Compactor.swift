// Log compaction (cleanup.policy=compact): keep the latest record of each key in the
// closed segments below the last stable offset, drop tombstones once delete.retention.ms
// has passed since the cleaner first saw them, drop the records of aborted transactions
// (they never count as a key's latest value), keep every transaction marker, recompress
// rewritten batches with their own codec, and swap each cleaned segment in atomically.

import KafkaRecords
import SystemCalls

public struct CompactionResult: Sendable, Equatable {
    public var segmentsRewritten = 0
    public var recordsRemoved = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
}

extension PartitionLog {
    /// Compacts every segment but the active one. The lock is held throughout: appends
    /// wait (the cleaner runs on its own thread, never a reactor).
    @discardableResult
    public func compact(now: Int64) throws(LogError) -> CompactionResult {
        lock.lock(); defer { lock.unlock() }
        guard configuration.cleanupPolicy.compacts, segments.count > 1 else { return CompactionResult() }
        do {
            // Only what no open transaction can still change (Kafka cleans below the LSO).
            let stableEnd = producers.firstUnstableOffset ?? .max
            let closed = Array(segments.dropLast().prefix { $0.nextOffset <= stableEnd })
            let aborted = segments.compactMap { transactionIndexes[$0.baseOffset] }.flatMap(\.entries)
            func isAborted(_ batch: RecordBatch) -> Bool {
                batch.isTransactional && aborted.contains {
                    $0.producerId == batch.producerId && batch.baseOffset >= $0.firstOffset && batch.baseOffset < $0.lastOffset
                }
            }
            // Pass 1: the offset of the latest record of every key.
            var latest: [[UInt8]: Int64] = [:]
            for segment in closed {
                try forEachBatch(in: segment) { batch in
                    guard !batch.isControl, !isAborted(batch) else { return }
                    try batch.forEachRecord { record in
                        if let key = record.key { latest[key] = record.offset }
                        return true
                    }
                }
            }
            // Pass 2: rewrite each closed segment that has something to drop.
            var result = CompactionResult()
            for (index, segment) in closed.enumerated() {
                result.bytesBefore += segment.size
                guard let cleaned = try clean(segment, latest: latest, isAborted: isAborted, now: now, result: &result) else {
                    result.bytesAfter += segment.size
                    continue
                }
                segments[index] = cleaned
                result.bytesAfter += cleaned.size
                result.segmentsRewritten += 1
            }
            return result
        } catch let error as LogError {
            throw error
        } catch let error as SystemCallError {
            throw .io(error)
        } catch {
            throw .corruptSegment(path: directory, position: 0, reason: "\(error)")
        }
    }

    /// Lock held. Calls `body` with every batch of `segment`, in order.
    private func forEachBatch(in segment: Segment, _ body: (RecordBatch) throws -> Void) throws {
        var position: Int64 = 0
        while let location = try segment.batch(at: position) {
            let bytes = try segment.log.read(count: location.size, at: position)
            do {
                try body(try RecordBatch(bytes: bytes))
            } catch let error as RecordBatchError {
                throw LogError.corruptSegment(path: segment.log.path, position: position, reason: error.description)
            }
            position = location.end
        }
    }

    /// Lock held. Writes the cleaned copy of `segment` and swaps it in; nil when nothing
    /// in it would change.
    private func clean(_ segment: Segment, latest: [[UInt8]: Int64], isAborted: (RecordBatch) -> Bool, now: Int64,
                       result: inout CompactionResult) throws -> Segment? {
        var output: [UInt8] = []
        var changed = false
        var removed = 0
        try forEachBatch(in: segment) { batch in
            if batch.isControl {
                // Transaction markers stay: read_committed readers and producer state need them.
                output += batch.bytes[batch.range]
                return
            }
            let records = try batch.records()
            if isAborted(batch) {
                changed = true
                removed += records.count
                return
            }
            let horizon: Int64? = batch.hasDeleteHorizon ? batch.baseTimestamp : nil
            let kept = records.filter { record in
                guard let key = record.key else { return true }
                guard latest[key] == record.offset else { return false }
                if record.value == nil, let horizon, now >= horizon { return false }  // tombstone past its horizon
                return true
            }
            let needsHorizon = horizon == nil && kept.contains { $0.value == nil && $0.key != nil }
            if kept.count == records.count && !needsHorizon {
                output += batch.bytes[batch.range]
                return
            }
            changed = true
            removed += records.count - kept.count
            guard !kept.isEmpty else { return }
            var builder = RecordBatchBuilder()
            builder.baseOffset = batch.baseOffset
            builder.partitionLeaderEpoch = batch.partitionLeaderEpoch
            builder.compression = batch.compression ?? .none
            builder.timestampType = batch.timestampType
            builder.isTransactional = batch.isTransactional
            builder.producerId = batch.producerId
            builder.producerEpoch = batch.producerEpoch
            builder.baseSequence = batch.baseSequence
            // The batch keeps its offset span, so producer state and offsets stay as they were.
            builder.lastOffsetDeltaOverride = batch.lastOffsetDelta
            if kept.contains(where: { $0.value == nil }) {
                builder.deleteHorizon = horizon ?? now.clampedAdding(configuration.deleteRetentionMilliseconds)
            }
            output += try builder.build(kept)
        }
        guard changed else { return nil }
        result.recordsRemoved += removed
        // Write aside, sync, then rename over the segment: a crash leaves either the old
        // file or the new one, and a stray .cleaned file is removed on open.
        let base = directory + "/" + Segment.fileName(segment.baseOffset, "")
        let cleaned = try store.open(base + ".log.cleaned", create: true)
        try System.ftruncate(cleaned.descriptor, length: 0)
        try cleaned.write(output, at: 0)
        try store.sync(cleaned)
        try store.rename(base + ".log.cleaned", to: base + ".log")
        return try Segment.open(store: store, directory: directory, baseOffset: segment.baseOffset,
                                indexIntervalBytes: configuration.indexIntervalBytes, recover: true, now: now).segment
    }
}
