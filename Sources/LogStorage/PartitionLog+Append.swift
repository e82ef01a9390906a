// Appending to a partition in two steps: every batch is checked without the lock (framing,
// CRC, record count, size, timestamps, keys of compacted topics), then a short locked commit
// checks producer sequences, assigns offsets in place and writes all batches at once.

import KafkaRecords
import SystemCalls

/// A request's batches after the checks that need no lock: what the commit works from.
struct CheckedBatches {
    let batches: [RecordBatch]
    /// Each batch's header and, for a control batch, its transaction marker.
    let headers: [(header: RecordBatchHeader, marker: TransactionMarker?)]
    let timestampPolicy: TimestampPolicy
}

extension PartitionLog {
    /// Validates every batch (framing, magic 2, CRC, record count, size) before writing
    /// anything, assigns offsets by patching baseOffset and partitionLeaderEpoch in place
    /// (compressed batches stay as they are), stamps LogAppendTime where the topic asks for
    /// it, and appends all of them in one write.
    public func append(_ records: [UInt8], leaderEpoch: Int32, now: Int64) throws(LogError) -> AppendResult {
        let configuration = lock.withLock { self.configuration }
        let checked = try Self.check(records, configuration: configuration, now: now)
        let (result, notify) = try lock.withLock { () throws(LogError) in
            try commit(records, checked, leaderEpoch: leaderEpoch, now: now)
        }
        if !result.isDuplicate { notify?(result.lastOffset + 1) }
        return result
    }

    /// A follower's append of batches copied from its leader: their offsets, leader epochs and
    /// timestamps are kept as the leader wrote them, and the first must start at this log's
    /// end (the offset the follower fetched from).
    public func appendAsFollower(_ records: [UInt8], now: Int64) throws(LogError) -> AppendResult {
        let configuration = lock.withLock { self.configuration }
        let checked = try Self.check(records, configuration: configuration, now: now, checksTimestamps: false)
        let (result, notify) = try lock.withLock { () throws(LogError) in
            try commit(records, checked, leaderEpoch: nil, now: now)
        }
        notify?(result.lastOffset + 1)
        return result
    }

    /// Appends a COMMIT or ABORT marker for the producer (the transaction coordinator's
    /// WriteTxnMarkers). Returns its offset.
    @discardableResult
    public func appendTransactionMarker(
        producerId: Int64, producerEpoch: Int16, commit: Bool, coordinatorEpoch: Int32,
        now: Int64
    ) throws(LogError) -> Int64 {
        let marker = TransactionMarker(type: commit ? .commit : .abort, coordinatorEpoch: coordinatorEpoch)
        let batch = marker.batch(producerId: producerId, producerEpoch: producerEpoch, timestamp: now)
        return try append(batch, leaderEpoch: latestLeaderEpoch, now: now).baseOffset
    }

    /// Starts a new segment now (tests, and compaction of the old active segment).
    public func roll(now: Int64) throws(LogError) {
        try lock.withLock { () throws(LogError) in
            guard segments.last!.size > 0 else { return }
            do throws(SystemCallError) { try rollLocked(now: now) } catch { throw .io(error) }
        }
    }

    // MARK: Checks without the lock

    /// Every header parsed and every marker read, in Kafka's order: size, then CRC and
    /// framing, then what the header says.
    private static func check(
        _ records: [UInt8], configuration: LogConfiguration, now: Int64, checksTimestamps: Bool = true
    ) throws(LogError) -> CheckedBatches {
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.batches(in: records)
        } catch {
            throw .invalidBatch(index: 0, error)
        }
        guard !batches.isEmpty else { throw .invalidBatch(index: 0, .truncated(needed: RecordBatchLayout.headerSize, available: 0)) }
        let limit = configuration.maximumBatchBytes
        let compacts = configuration.cleanupPolicy.compacts
        var headers: [(header: RecordBatchHeader, marker: TransactionMarker?)] = []
        headers.reserveCapacity(batches.count)
        for (index, batch) in batches.enumerated() {
            // The size first, as Kafka: an oversized batch is not inflated to be refused.
            if batch.totalSize > limit { throw .batchTooLarge(size: batch.totalSize, limit: limit) }
            let keyless: [Int32]
            do {
                try batch.validate()
                // A compacted log keeps the latest value per key: a record without one has no
                // place in it (Kafka's INVALID_RECORD), found on the same walk.
                keyless = try batch.validateRecordFraming(listingKeyless: compacts && !batch.isControl ? maximumListedRecordErrors : 0)
                headers.append((RecordBatchHeader(records, at: batch.start)!, batch.isControl ? try TransactionMarker(batch: batch) : nil))
            } catch {
                throw .invalidBatch(index: index, error)
            }
            if !keyless.isEmpty { throw .keylessRecords(keyless) }
            // From the header alone (no per-record work): the newest and the first timestamp.
            if checksTimestamps && configuration.timestampPolicy == .createTime && !batch.isControl {
                if batch.maxTimestamp > now.clampedAdding(configuration.timestampAfterMaxMilliseconds) {
                    throw .invalidTimestamp(timestamp: batch.maxTimestamp, now: now)
                }
                if batch.baseTimestamp >= 0 && batch.baseTimestamp < now.clampedSubtracting(configuration.timestampBeforeMaxMilliseconds) {
                    throw .invalidTimestamp(timestamp: batch.baseTimestamp, now: now)
                }
            }
        }
        return CheckedBatches(batches: batches, headers: headers, timestampPolicy: configuration.timestampPolicy)
    }

    // MARK: The locked commit

    /// Lock held. Checks each batch against its producer's state, assigns offsets and writes.
    /// Returns the result and the hook to call, once the lock is released, with the new log end.
    /// Without a `leaderEpoch` the batches are a follower's copies: offsets kept, the leader's
    /// checks not repeated.
    private func commit(
        _ records: [UInt8], _ checked: CheckedBatches, leaderEpoch: Int32?,
        now: Int64
    ) throws(LogError) -> (AppendResult, (@Sendable (Int64) -> Void)?) {
        // Offsets and the leader epoch go into each batch's first 16 bytes: written from a
        // patch, so the request's batch is not copied. LogAppendTime rewrites more (the
        // CRC), so that case patches a copy.
        var bytes = records
        var patches: [(position: Int, bytes: [UInt8])] = []
        // Roll first, so that a snapshot written at the roll holds the producer state as of
        // the segment boundary, before this append is recorded.
        do { try rollIfNeeded(incomingBytes: bytes.count, now: now) } catch { throw .io(error) }
        var next = segments.last!.nextOffset
        let baseOffset = next
        var headers: [RecordBatchHeader] = []
        headers.reserveCapacity(checked.batches.count)
        // The producer state is updated in place as each batch passes its check (a later
        // batch of the same producer must follow it); `undo` puts back what this append
        // touched if it fails, without copying the whole state on every append.
        var undo: [Int64: ProducerState.Entry?] = [:]
        var aborted: [AbortedTransaction] = []
        func rollBack() { for (producerId, entry) in undo { producers.restore(producerId, entry) } }
        for (batch, (checkedHeader, marker)) in zip(checked.batches, checked.headers) {
            var header = checkedHeader
            guard let leaderEpoch else {
                // A copy: it must continue this log exactly.
                guard header.baseOffset == next else {
                    rollBack()
                    throw .offsetOutOfRange(requested: header.baseOffset, logStartOffset: startOffset, logEndOffset: next)
                }
                if header.producerId >= 0 && !undo.keys.contains(header.producerId) {
                    undo[header.producerId] = .some(producers.entry(for: header.producerId))
                }
                record(header, marker: marker, aborted: &aborted)
                headers.append(header)
                next += Int64(batch.lastOffsetDelta) + 1
                continue
            }
            switch producers.check(header) {
            case .failure(let error):
                rollBack()
                throw .sequence(error)
            case .success(.duplicate(let firstOffset, let lastOffset)) where checked.batches.count == 1:
                return (
                    AppendResult(
                        baseOffset: firstOffset, lastOffset: lastOffset, logAppendTime: -1,
                        logStartOffset: startOffset, isDuplicate: true), nil
                )
            case .success:
                break
            }
            if checked.timestampPolicy == .logAppendTime {
                RecordBatch.assignOffsets(in: &bytes, batchStart: batch.start, baseOffset: next, partitionLeaderEpoch: leaderEpoch)
                RecordBatch.setLogAppendTime(now, in: &bytes, batchStart: batch.start)
                header = RecordBatchHeader(bytes, at: batch.start)!  // attributes, maxTimestamp and CRC changed
            } else {
                patches.append(
                    (
                        batch.start,
                        RecordBatch.headerPatch(
                            baseOffset: next, batchLength: header.batchLength,
                            partitionLeaderEpoch: leaderEpoch)
                    ))
            }
            header.baseOffset = next
            header.partitionLeaderEpoch = leaderEpoch
            if header.producerId >= 0 && !undo.keys.contains(header.producerId) {
                undo[header.producerId] = .some(producers.entry(for: header.producerId))
            }
            record(header, marker: marker, aborted: &aborted)
            headers.append(header)
            next += Int64(batch.lastOffsetDelta) + 1
        }
        do {
            try segments.last!.append(bytes, patches: patches, batches: headers)
        } catch {
            rollBack()
            throw .io(error)
        }
        // A new leader epoch begins with its first batch (usually known already: a leader
        // notes its epoch on taking over).
        for header in headers where header.partitionLeaderEpoch > (leaderEpochs.latestEpoch ?? -1) {
            noteLeaderEpoch(header.partitionLeaderEpoch, at: header.baseOffset)
        }
        // The data is written: a failing index write cannot undo it. The entry is rebuilt from
        // the marker when the log is next opened after it.
        for var entry in aborted {
            entry.lastStableOffset = min(producers.firstUnstableOffset ?? next, next)
            try? transactionIndex(for: segments.last!).append(entry)
        }
        let result = AppendResult(
            baseOffset: baseOffset, lastOffset: next - 1,
            logAppendTime: checked.timestampPolicy == .logAppendTime ? now : -1, logStartOffset: startOffset)
        return (result, appendHook)
    }

    /// Lock held. The producer state after a batch: its last sequence, or for a transaction
    /// marker the transaction's end (an ABORT listed for the transaction index).
    private func record(_ header: RecordBatchHeader, marker: TransactionMarker?, aborted: inout [AbortedTransaction]) {
        guard let marker else {
            producers.record(header)
            return
        }
        if let first = producers.endTransaction(header), marker.type == .abort {
            aborted.append(
                AbortedTransaction(producerId: header.producerId, firstOffset: first, lastOffset: header.lastOffset, lastStableOffset: -1))
        }
    }

    /// Lock held. Starts a new segment when the active one would pass segment.bytes or is
    /// older than segment.ms (never for an empty segment).
    private func rollIfNeeded(incomingBytes: Int, now: Int64) throws(SystemCallError) {
        let active = segments.last!
        guard active.size > 0 else { return }
        let full =
            active.size + Int64(incomingBytes) > configuration.segmentBytes
            || active.size + Int64(incomingBytes) > Int64(UInt32.max)  // index positions are 32-bit
        let old = now - active.createdMilliseconds >= configuration.rollMilliseconds
        if full || old { try rollLocked(now: now) }
    }

    /// Lock held.
    private func rollLocked(now: Int64) throws(SystemCallError) {
        try writeProducerSnapshot()
        let segment = try Segment.create(
            store: store, directory: directory, baseOffset: segments.last!.nextOffset,
            indexIntervalBytes: configuration.indexIntervalBytes, now: now)
        segments.last!.seal()
        segments.append(segment)
        rollHook?(self)
    }
}
