// Reading a partition: file regions for sendfile from the batch that holds an offset, and
// the lookups by timestamp that ListOffsets makes.

import KafkaRecords
import SystemCalls

extension PartitionLog {
    // MARK: Read

    /// Reads from the batch that contains `offset` (a consumer asking for a mid-batch
    /// offset gets the whole batch and skips the records before it), as much as
    /// `ReadResult.length` allows within `maxBytes`. `maxOffset` (exclusive)
    /// stops earlier; `readCommitted` stops at the last stable offset and names the aborted
    /// transactions up to it, all under one acquisition of the lock. Consumers read up to the
    /// high watermark, follower replicas (`asReplica`) up to the log end.
    public func read(
        from offset: Int64, maxBytes: Int, minOneBatch: Bool, maxOffset: Int64? = nil,
        readCommitted: Bool = false, asReplica: Bool = false
    ) throws(LogError) -> ReadResult {
        try lock.withLock { () throws(LogError) in
            let end = segments.last!.nextOffset
            guard offset >= startOffset && offset <= end else {
                throw .offsetOutOfRange(requested: offset, logStartOffset: startOffset, logEndOffset: end)
            }
            let highWatermark = highWatermarkLocked
            let stable = lastStableOffsetLocked
            let visible = asReplica ? end : highWatermark
            let limit = min(maxOffset ?? visible, readCommitted ? stable : visible)
            let aborted = readCommitted ? abortedTransactionsLocked(from: offset, to: stable) : []
            let empty = ReadResult(
                regions: [], highWatermark: highWatermark, logStartOffset: startOffset, lastStableOffset: stable,
                abortedTransactions: aborted)
            guard offset < limit else { return empty }
            do throws(SystemCallError) {
                var index = segmentIndex(containing: offset)
                while index < segments.count {
                    let segment = segments[index]
                    if let first = try segment.locate(offset: offset), first.header.baseOffset < limit {
                        var stop = segment.size
                        var stopOffset = segment.nextOffset
                        if limit < segment.nextOffset {
                            // Up to the first batch at or past the limit.
                            var position = first.position
                            while let location = try segment.batch(at: position) {
                                guard location.header.baseOffset < limit else {
                                    stopOffset = location.header.baseOffset
                                    break
                                }
                                position = location.end
                                stopOffset = location.header.lastOffset + 1
                            }
                            stop = position
                        }
                        let length = ReadResult.length(
                            available: Int(stop - first.position), firstBatchSize: first.size, maxBytes: maxBytes,
                            minOneBatch: minOneBatch)
                        guard length > 0 else { return empty }
                        return ReadResult(
                            regions: [LogRegion(file: try segment.log(), position: first.position, length: length)],
                            highWatermark: highWatermark, logStartOffset: startOffset, lastStableOffset: stable,
                            abortedTransactions: aborted, firstBatchSize: first.size, firstBatchOffset: first.header.baseOffset,
                            endOffset: length == Int(stop - first.position) ? stopOffset : nil)
                    }
                    index += 1
                }
                return empty
            } catch {
                throw .io(error)
            }
        }
    }

    /// The offset after the whole batches of the first `length` bytes of a read from `offset`
    /// (a Fetch's region as sent, after its byte budgets): how many offsets its reader got.
    /// Nil when the offset is no longer in the log.
    public func offsetAfterWholeBatches(readFrom offset: Int64, length: Int) -> Int64? {
        lock.withLock {
            let segment = segments[segmentIndex(containing: offset)]
            guard let first = try? segment.locate(offset: offset) else { return nil }
            return try? segment.offsetAfterWholeBatches(from: first, endingBy: first.position + Int64(length))
        }
    }

    /// Lock held. The last segment whose base offset is at or below `offset`.
    func segmentIndex(containing offset: Int64) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].baseOffset <= offset { low = middle + 1 } else { high = middle }
        }
        return max(0, low - 1)
    }

    // MARK: Timestamps (ListOffsets)

    /// The first offset whose record timestamp is at or after `timestamp`, with that
    /// record's timestamp; nil when every record is older.
    public func offset(forTimestamp timestamp: Int64) throws(LogError) -> (offset: Int64, timestamp: Int64)? {
        try lock.withLock { () throws(LogError) in
            do {
                // As Kafka's LogSegment.findOffsetByTimestamp: from the first batch whose newest
                // record is at or after the target, batch by batch, passing over what lies below
                // the log start (DeleteRecords moves it inside a segment).
                for segment in segments where segment.maxTimestamp >= timestamp && segment.nextOffset > startOffset {
                    var next = try segment.locate(timestamp: timestamp)
                    // Below the log start: straight to the batch that holds it (the offset index), as
                    // Kafka looks up max(time index offset, log start), not batch by batch.
                    if let location = next, location.header.lastOffset < startOffset {
                        next = try segment.locate(offset: startOffset)
                    }
                    while let location = next {
                        if location.header.lastOffset >= startOffset && location.header.maxTimestamp >= timestamp {
                            var found: Record?
                            try forEachRecord(at: location, in: segment) { record in
                                if record.timestamp >= timestamp && record.offset >= startOffset { found = record }
                                return found == nil
                            }
                            if let found { return (found.offset, found.timestamp) }
                        }
                        next = try segment.batch(at: location.end)
                    }
                }
                return nil
            } catch let error as SystemCallError {
                throw .io(error)
            } catch let error as LogError {
                throw error
            } catch {
                throw .io(SystemCallError(call: "timestamp lookup", errno: 5))
            }
        }
    }

    /// The record with the largest timestamp (ListOffsets -3, KIP-734); nil for an empty log.
    public func maxTimestampRecord() throws(LogError) -> (offset: Int64, timestamp: Int64)? {
        try lock.withLock { () throws(LogError) in
            guard let segment = segments.filter({ $0.maxTimestamp >= 0 }).max(by: { $0.maxTimestamp < $1.maxTimestamp }) else { return nil }
            do {
                guard let location = try segment.locate(offset: segment.offsetOfMaxTimestamp) else { return nil }
                var best: Record?
                try forEachRecord(at: location, in: segment) { record in
                    if best.map({ $0.timestamp < record.timestamp }) ?? true { best = record }
                    return true
                }
                return best.map { ($0.offset, $0.timestamp) }
            } catch let error as SystemCallError {
                throw .io(error)
            } catch let error as LogError {
                throw error
            } catch {
                throw .io(SystemCallError(call: "max timestamp lookup", errno: 5))
            }
        }
    }

    private func forEachRecord(at location: BatchLocation, in segment: Segment, _ body: (Record) -> Bool) throws {
        let bytes = try segment.log().read(count: location.size, at: location.position)
        do {
            try RecordBatch(bytes: bytes).forEachRecord(body)
        } catch {
            throw LogError.corruptSegment(path: segment.logPath, position: location.position, reason: error.description)
        }
    }
}
