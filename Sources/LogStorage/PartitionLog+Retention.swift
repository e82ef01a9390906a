// Deleting data from a partition: DeleteRecords, retention by time and size, truncation,
// expiry of idle producers, and the stop of compaction before the files go.

import SystemCalls

extension PartitionLog {
    /// Before the partition's files are removed: stops a running compaction pass (at its next
    /// batch, its copies dropped), waits for it to end, and keeps any other from starting.
    public func markDeleted() {
        isDeleted.store(true, ordering: .releasing)
        compactionLock.withLock {}
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high
    /// watermark) and deletes the segments wholly below it. Returns the new log start.
    @discardableResult
    public func deleteRecords(before offset: Int64, now: Int64) throws(LogError) -> Int64 {
        try lock.withLock { () throws(LogError) in
            let end = segments.last!.nextOffset
            guard offset >= 0 && offset <= end else {
                throw .offsetOutOfRange(requested: offset, logStartOffset: startOffset, logEndOffset: end)
            }
            guard offset > startOffset else { return startOffset }
            do throws(SystemCallError) {
                startOffset = offset
                try writeCheckpoint(Self.logStartFile, offset)
                try deleteSegments(now: now) { segment, _ in segment.nextOffset <= offset }
            } catch {
                throw .io(error)
            }
            return startOffset
        }
    }

    /// Forgets idle producers (producer.id.expiration.ms): a client that made up producer
    /// ids, or years of short-lived idempotent producers, would otherwise keep state for
    /// ever. A retry from a forgotten producer starts it afresh, as in Kafka.
    public func removeExpiredProducers(now: Int64, expirationMilliseconds: Int64) -> Int {
        lock.withLock { producers.removeExpired(now: now, expiration: expirationMilliseconds) }
    }

    /// Applies retention.ms and retention.bytes (delete policy only): whole segments go,
    /// oldest first, never the active one. Returns how many were deleted.
    @discardableResult
    public func applyRetention(now: Int64) throws(LogError) -> Int {
        try lock.withLock { () throws(LogError) in
            guard configuration.cleanupPolicy.deletes else { return 0 }
            var total = segments.reduce(0) { $0 + $1.size }
            let retentionBytes = configuration.retentionBytes
            let retentionMilliseconds = configuration.retentionMilliseconds
            do throws(SystemCallError) {
                return try deleteSegments(now: now) { segment, isActive in
                    if isActive { return false }
                    let expired =
                        retentionMilliseconds >= 0 && segment.maxTimestamp >= 0 && now - segment.maxTimestamp > retentionMilliseconds
                        || retentionMilliseconds >= 0 && segment.maxTimestamp < 0
                            && now - segment.createdMilliseconds > retentionMilliseconds
                    let oversize = retentionBytes >= 0 && total - segment.size >= retentionBytes
                    if expired || oversize {
                        total -= segment.size
                        return true
                    }
                    return false
                }
            } catch {
                throw .io(error)
            }
        }
    }

    /// Lock held. Deletes leading segments while `shouldDelete` says so; when every
    /// segment goes, a new empty one starts at the log end. Readers holding a deleted
    /// segment's file keep reading it until they let go.
    @discardableResult
    func deleteSegments(now: Int64, _ shouldDelete: (Segment, Bool) -> Bool) throws(SystemCallError) -> Int {
        var deleted = 0
        while let first = segments.first, !(segments.count == 1 && first.size == 0), shouldDelete(first, segments.count == 1) {
            if segments.count == 1 {
                // Deleting the active segment (DeleteRecords to the end): start afresh.
                let end = first.nextOffset
                segments.append(
                    try Segment.create(
                        store: store, directory: directory, baseOffset: end,
                        indexIntervalBytes: configuration.indexIntervalBytes, now: now))
            }
            segments.removeFirst()
            transactionIndexes[first.baseOffset] = nil
            for path in first.files(in: directory) { try? store.remove(path) }
            deleted += 1
        }
        if let first = segments.first, first.baseOffset > startOffset {
            startOffset = first.baseOffset
            try writeCheckpoint(Self.logStartFile, startOffset)
        }
        if deleted > 0 { producers.dropBefore(startOffset) }
        return deleted
    }

    /// Cuts the log so that `offset` is the next offset (recovery and tests).
    public func truncate(to offset: Int64) throws(LogError) {
        try compactionLock.withLock { () throws(LogError) in
            try lock.withLock { () throws(LogError) in
                do throws(SystemCallError) {
                    // Compaction's progress cannot lie past the data that is left (Kafka's
                    // maybeTruncateCheckpoint).
                    if firstDirtyOffset > offset {
                        firstDirtyOffset = offset
                        try writeCheckpoint(Self.cleanerOffsetFile, offset)
                    }
                    if syncedOffset > offset {
                        syncedOffset = offset
                        try writeCheckpoint(Self.recoveryPointFile, offset)
                    }
                    while segments.count > 1, segments.last!.baseOffset >= offset {
                        let last = segments.removeLast()
                        transactionIndexes[last.baseOffset] = nil
                        for path in last.files(in: directory) { try? store.remove(path) }
                    }
                    try segments.last!.truncate(to: offset)
                    // The cut falls on a batch boundary, at or below `offset`. What a follower
                    // cuts may lie past the high watermark it was told.
                    let end = segments.last!.nextOffset
                    if let highWatermark = replicatedHighWatermark, highWatermark > end { replicatedHighWatermark = end }
                    if leaderEpochs.truncate(from: end) { saveLeaderEpochs() }
                    for stale in snapshotOffsets() where stale > offset {
                        try? store.remove(directory + "/" + Segment.fileName(stale, ".snapshot"))
                    }
                    try rebuildProducerState()
                } catch {
                    throw .io(error)
                }
            }
        }
    }

    /// Empties the log and starts it over at `offset`: a follower whose log ends below its
    /// leader's log start (away for longer than the leader's retention) copies from there
    /// (Kafka's truncateFullyAndStartAt). Its producers and leader epochs go with the data.
    public func truncateFully(startingAt offset: Int64, now: Int64) throws(LogError) {
        try compactionLock.withLock { () throws(LogError) in
            try lock.withLock { () throws(LogError) in
                do throws(SystemCallError) {
                    let fresh = try Segment.create(
                        store: store, directory: directory, baseOffset: offset, indexIntervalBytes: configuration.indexIntervalBytes,
                        now: now)
                    for old in segments {
                        transactionIndexes[old.baseOffset] = nil
                        for path in old.files(in: directory) { try? store.remove(path) }
                    }
                    segments = [fresh]
                    for snapshot in snapshotOffsets() { try? store.remove(directory + "/" + Segment.fileName(snapshot, ".snapshot")) }
                    (startOffset, firstDirtyOffset, syncedOffset) = (offset, offset, offset)
                    for file in [Self.logStartFile, Self.cleanerOffsetFile, Self.recoveryPointFile] { try writeCheckpoint(file, offset) }
                    if replicatedHighWatermark != nil { replicatedHighWatermark = offset }
                    if leaderEpochs.truncate(from: .min) { saveLeaderEpochs() }
                    producers = ProducerState()
                } catch {
                    throw .io(error)
                }
            }
        }
    }
}
