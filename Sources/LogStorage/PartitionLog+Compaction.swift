// Log compaction (cleanup.policy=compact): keep the latest record of each key in the
// closed segments below the last stable offset, drop tombstones once delete.retention.ms
// has passed since the cleaner first saw them, drop the records of aborted transactions
// (they never count as a key's latest value), keep every transaction marker, recompress
// rewritten batches with their own codec, and swap each cleaned segment in atomically.
// A pass runs when Kafka's cleaner would (dirty ratio, compaction lags), or when kept
// tombstones fall due.

import KafkaRecords
import SystemCalls

public struct CompactionResult: Sendable, Equatable {
    /// Closed segments read by the pass; 0 when none was due.
    public var segmentsRead = 0
    public var segmentsRewritten = 0
    public var recordsRemoved = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
}

/// What one pass cleans, chosen under the lock.
private struct CompactionPlan {
    /// The closed segments below the first uncleanable offset.
    let segments: [Segment]
    /// The first uncleanable offset: where the next pass's dirty part starts.
    let end: Int64
    let aborted: [AbortedTransaction]
    let deleteRetentionMilliseconds: Int64
    let indexIntervalBytes: Int

    func isAborted(_ batch: RecordBatch) -> Bool {
        batch.isTransactional
            && aborted.contains {
                $0.producerId == batch.producerId && batch.baseOffset >= $0.firstOffset && batch.baseOffset < $0.lastOffset
            }
    }
}

/// A key as the offset map of a pass knows it: 128 bits of two SipHash digests with this
/// process's random seed (as Kafka's cleaner keeps an MD5 of each key), so that the map's
/// size follows the number of keys, not their length, and crafted keys cannot collide.
private struct KeyDigest: Hashable {
    let first: Int
    let second: Int

    init(_ key: [UInt8]) {
        var first = Hasher()
        var second = Hasher()
        first.combine(0 as UInt8)
        second.combine(1 as UInt8)
        key.withUnsafeBytes { raw in
            first.combine(bytes: raw)
            second.combine(bytes: raw)
        }
        self.first = first.finalize()
        self.second = second.finalize()
    }
}

/// A pass stopped because the partition is being deleted.
private struct CompactionStopped: Error {}

/// A segment's cleaned copy, its files written and its indexes built before the swap takes
/// the lock.
private struct CleanedCopy {
    let original: Segment
    let removed: Int
}

extension PartitionLog {
    /// Compacts the closed segments that may be cleaned, when Kafka's cleaner would: the
    /// part written since the last pass is more than min.cleanable.dirty.ratio of them, or
    /// some of it is older than max.compaction.lag.ms. Swiftlet adds one reason: tombstones a
    /// pass kept have passed their delete horizon (Kafka drops them only when another pass
    /// happens to run). Segments are read and rewritten outside the lock, so appends and
    /// fetches go on; each cleaned segment is swapped in under it.
    @discardableResult
    public func compact(now: Int64) throws(LogError) -> CompactionResult {
        try compactionLock.withLock { () throws(LogError) in try compactHoldingCompactionLock(now: now) }
    }

    private func compactHoldingCompactionLock(now: Int64) throws(LogError) -> CompactionResult {
        guard !isDeleted.load(ordering: .acquiring), let plan = planCompaction(now: now) else { return CompactionResult() }
        var cleaned: [CleanedCopy] = []
        do {
            // Pass 1: the offset of the latest record of every key, up to the map's bound;
            // keys past it are not mapped, and records of unmapped keys are kept.
            var latest: [KeyDigest: Int64] = [:]
            for segment in plan.segments {
                try forEachBatch(in: segment) { batch in
                    guard !batch.isControl, !plan.isAborted(batch) else { return }
                    try batch.forEachRecordInPieces { record in
                        guard let key = record.key else { return true }
                        let digest = KeyDigest(key)
                        if latest.count < Self.maximumCompactionKeys || latest[digest] != nil { latest[digest] = record.offset }
                        return true
                    }
                }
            }
            // Pass 2: write a cleaned copy of each segment that has something to drop.
            var result = CompactionResult()
            result.segmentsRead = plan.segments.count
            var horizon: Int64?
            for segment in plan.segments {
                if let copy = try writeCleanedCopy(of: segment, latest: latest, plan: plan, now: now, horizon: &horizon) {
                    cleaned.append(copy)
                } else {
                    result.bytesBefore += segment.size
                    result.bytesAfter += segment.size
                }
            }
            beforeCompactionSwap?()
            return try lock.withLock { () throws(any Error) -> CompactionResult in
                if isDeleted.load(ordering: .acquiring) { throw CompactionStopped() }
                for copy in cleaned {
                    // DeleteRecords or retention may have removed it meanwhile.
                    guard let index = segments.firstIndex(where: { $0 === copy.original }) else {
                        removeCleanedFiles(of: copy.original)
                        continue
                    }
                    // Renames, then a reopen under the segment's own names that loads the indexes
                    // built outside the lock. The old indexes go first and the new ones follow the
                    // log: a crash leaves a log without indexes (rebuilt on open) or with its own,
                    // never with another's.
                    let base = directory + "/" + Segment.fileName(copy.original.baseOffset, "")
                    try? store.remove(base + ".index")
                    try? store.remove(base + ".timeindex")
                    // An empty copy has no index files (they are made with their first entry).
                    for file in Segment.cleanedFiles where file == ".log" || store.exists(base + file + Segment.cleanedSuffix) {
                        try store.rename(base + file + Segment.cleanedSuffix, to: base + file)
                    }
                    let swapped = try Segment.open(
                        store: store, directory: directory, baseOffset: copy.original.baseOffset,
                        indexIntervalBytes: configuration.indexIntervalBytes, recover: false, now: now
                    ).segment
                    swapped.seal()  // never the active segment
                    segments[index] = swapped
                    result.bytesBefore += copy.original.size
                    result.bytesAfter += swapped.size
                    result.segmentsRewritten += 1
                    result.recordsRemoved += copy.removed
                }
                firstDirtyOffset = max(firstDirtyOffset, plan.end)
                earliestDeleteHorizon = horizon
                try writeCheckpoint(Self.cleanerOffsetFile, firstDirtyOffset)
                if let horizon {
                    try writeCheckpoint(Self.deleteHorizonFile, horizon)
                } else {
                    try? store.remove(directory + "/" + Self.deleteHorizonFile)
                }
                return result
            }
        } catch is CompactionStopped {
            for copy in cleaned { removeCleanedFiles(of: copy.original) }
            return CompactionResult()
        } catch let error as LogError {
            throw error
        } catch let error as SystemCallError {
            throw .io(error)
        } catch {
            throw .corruptSegment(path: directory, position: 0, reason: "\(error)")
        }
    }

    /// Under the lock: the segments a pass may clean, if one is due (Kafka's
    /// LogCleanerManager). Cleaning stops at the active segment, at the first open transaction
    /// (Kafka cleans below the last stable offset) and at the first dirty segment holding
    /// records younger than min.compaction.lag.ms.
    private func planCompaction(now: Int64) -> CompactionPlan? {
        lock.withLock { () -> CompactionPlan? in
            guard configuration.cleanupPolicy.compacts, segments.count > 1 else { return nil }
            let closed = segments.dropLast()
            let stableEnd = producers.firstUnstableOffset ?? .max
            let minimumLag = configuration.minimumCompactionLagMilliseconds
            let youngest = now.clampedSubtracting(minimumLag)
            let cleanable = Array(
                closed.prefix { segment in
                    segment.nextOffset <= stableEnd
                        && (segment.nextOffset <= firstDirtyOffset || minimumLag == 0 || segment.largestTimestamp <= youngest)
                })
            let dirty = cleanable.filter { $0.nextOffset > firstDirtyOffset }
            let dirtyBytes = dirty.reduce(Int64(0)) { $0 + $1.size }
            let totalBytes = cleanable.reduce(Int64(0)) { $0 + $1.size }
            let ratio = totalBytes > 0 ? Double(dirtyBytes) / Double(totalBytes) : 0
            // max.compaction.lag.ms counts from the oldest first batch of any dirty closed segment.
            let maximumLag = configuration.maximumCompactionLagMilliseconds
            let overdue =
                maximumLag < .max
                && closed.filter { $0.nextOffset > firstDirtyOffset }.compactMap(\.firstBatchTimestamp).min()
                    .map { $0 < now.clampedSubtracting(maximumLag) } == true
            let tombstonesDue = earliestDeleteHorizon.map { $0 <= now } ?? false
            guard let last = cleanable.last,
                (dirtyBytes > 0 && (ratio > configuration.minimumCleanableDirtyRatio || overdue)) || tombstonesDue
            else {
                return nil
            }
            return CompactionPlan(
                segments: cleanable, end: last.nextOffset,
                aborted: segments.compactMap { transactionIndexes[$0.baseOffset] }.flatMap(\.entries),
                deleteRetentionMilliseconds: configuration.deleteRetentionMilliseconds,
                indexIntervalBytes: configuration.indexIntervalBytes)
        }
    }

    /// Calls `body` with every batch of a closed `segment`, in order (no lock: a closed
    /// segment does not change, and holding it keeps its file open).
    private func forEachBatch(in segment: Segment, _ body: (RecordBatch) throws -> Void) throws {
        var position: Int64 = 0
        while let location = try segment.batch(at: position) {
            if isDeleted.load(ordering: .relaxed) { throw CompactionStopped() }
            let bytes = try segment.log().read(count: location.size, at: position)
            do {
                try body(try RecordBatch(bytes: bytes))
            } catch let error as RecordBatchError {
                throw LogError.corruptSegment(path: segment.logPath, position: position, reason: error.description)
            }
            position = location.end
        }
    }

    /// Writes the cleaned copy of `segment` beside it (`.log.cleaned`, synced, and its indexes
    /// built from the batch headers: written by this pass, the batches need no CRC check); nil
    /// when nothing in it would change. `horizon` gathers the earliest delete
    /// horizon of the tombstones kept.
    /// At most this many keys are mapped by one pass (Kafka bounds its offset map by
    /// log.cleaner.dedupe.buffer.size): about 80 MB however many keys a log holds.
    static let maximumCompactionKeys = 2_000_000

    private func writeCleanedCopy(
        of segment: Segment, latest: [KeyDigest: Int64], plan: CompactionPlan, now: Int64,
        horizon earliestHorizon: inout Int64?
    ) throws -> CleanedCopy? {
        let base = directory + "/" + Segment.fileName(segment.baseOffset, "")
        // Written aside as it is made, a megabyte at a time, and synced; the swap renames it
        // over the segment, so a crash leaves either the old file or the new one, and a stray
        // .cleaned file is removed on open.
        let copy = try store.open(base + ".log" + Segment.cleanedSuffix, create: true)
        try System.ftruncate(copy.descriptor, length: 0)
        for file in Segment.cleanedFiles where file != ".log" { try? store.remove(base + file + Segment.cleanedSuffix) }
        var output: [UInt8] = []
        var written: Int64 = 0
        func emit(_ bytes: ArraySlice<UInt8>) throws {
            output += bytes
            guard output.count >= 1 << 20 else { return }
            try copy.write(output, at: written)
            written += Int64(output.count)
            output.removeAll(keepingCapacity: true)
        }
        var changed = false
        var removed = 0
        try forEachBatch(in: segment) { batch in
            if batch.isControl {
                // Transaction markers stay: read_committed readers and producer state need them.
                try emit(batch.bytes[batch.range])
                return
            }
            if plan.isAborted(batch) {
                changed = true
                removed += Int(batch.recordCount)
                return
            }
            let horizon: Int64? = batch.hasDeleteHorizon ? batch.baseTimestamp : nil
            func keeps(_ record: Record) -> Bool {
                guard let key = record.key, let latestOffset = latest[KeyDigest(key)] else { return true }
                guard latestOffset == record.offset else { return false }
                if record.value == nil, let horizon, now >= horizon { return false }  // tombstone past its horizon
                return true
            }
            // Decided on a first walk that keeps no record, so a batch that stays whole (a
            // compression bomb of distinct keys among them) is copied as it is.
            var total = 0
            var keptCount = 0
            var keepsTombstones = false
            try batch.forEachRecordInPieces { record in
                total += 1
                if keeps(record) {
                    keptCount += 1
                    if record.value == nil && record.key != nil { keepsTombstones = true }
                }
                return true
            }
            let keptHorizon = keepsTombstones ? horizon ?? now.clampedAdding(plan.deleteRetentionMilliseconds) : nil
            if let keptHorizon { earliestHorizon = min(earliestHorizon ?? keptHorizon, keptHorizon) }
            if keptCount == total && (horizon != nil || !keepsTombstones) {
                try emit(batch.bytes[batch.range])
                return
            }
            changed = true
            removed += total - keptCount
            guard keptCount > 0 else { return }
            var kept: [Record] = []
            try batch.forEachRecordInPieces { record in
                if keeps(record) { kept.append(record) }
                return true
            }
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
                builder.deleteHorizon = horizon ?? now.clampedAdding(plan.deleteRetentionMilliseconds)
            }
            try emit(try builder.build(kept)[...])
        }
        guard changed else {
            try? store.remove(base + ".log" + Segment.cleanedSuffix)
            return nil
        }
        try copy.write(output, at: written)
        try store.sync(copy)
        // Opening the copy builds its index files from the batch headers, here, off the lock.
        _ = try Segment.open(
            store: store, directory: directory, baseOffset: segment.baseOffset,
            indexIntervalBytes: plan.indexIntervalBytes, recover: false, now: now, suffix: Segment.cleanedSuffix)
        return CleanedCopy(original: segment, removed: removed)
    }

    private func removeCleanedFiles(of segment: Segment) {
        let base = directory + "/" + Segment.fileName(segment.baseOffset, "")
        for file in Segment.cleanedFiles { try? store.remove(base + file + Segment.cleanedSuffix) }
    }
}
