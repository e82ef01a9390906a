// The log of one partition: its segments, log start and end offsets, appends that assign
// offsets in place, reads that return file regions for sendfile, lookups by timestamp,
// DeleteRecords and retention. One lock, held only for the append or the lookup.

import KafkaRecords
import Synchronization
import SystemCalls

/// Bytes of a segment file to send as they are (zero copy). `file` keeps it open.
public struct LogRegion: Sendable {
    public let file: LogFile
    public let position: Int64
    public let length: Int
}

public struct AppendResult: Sendable, Equatable {
    public let baseOffset: Int64
    public let lastOffset: Int64
    /// The broker time written into LogAppendTime batches; -1 for CreateTime topics.
    public let logAppendTime: Int64
    public let logStartOffset: Int64
    /// A producer's retry of a batch already in the log: nothing was appended, and the
    /// offsets are the original ones (Kafka answers it as a success).
    public var isDuplicate = false
}

public struct ReadResult: Sendable {
    /// Empty when there is nothing at the offset yet.
    public let regions: [LogRegion]
    public let highWatermark: Int64
    public let logStartOffset: Int64
    /// Where read_committed readers stop: the first offset of the oldest open transaction,
    /// else the high watermark.
    public let lastStableOffset: Int64
    /// With `readCommitted`: the aborted transactions in range, for the consumer to drop.
    public let abortedTransactions: [AbortedTransaction]
    public var byteCount: Int { regions.reduce(0) { $0 + $1.length } }
}

/// A producer as DescribeProducers shows it.
public struct ProducerSummary: Sendable, Equatable {
    public var producerId: Int64
    public var producerEpoch: Int16
    public var lastSequence: Int32
    public var lastTimestamp: Int64
    public var currentTransactionStartOffset: Int64
}

public final class PartitionLog: @unchecked Sendable {
    public let topicPartition: TopicPartition
    let directory: String
    let store: any FileStore
    // `lock` guards everything below.
    let lock = Lock()
    var segments: [Segment]
    var configuration: LogConfiguration
    private var startOffset: Int64
    /// Everything below this offset has been forced to disk.
    private var syncedOffset: Int64 = 0
    /// Idempotent producers' epochs and last batches, and open transactions.
    var producers = ProducerState()
    /// Each segment's aborted transactions (`.txnindex`), by segment base offset; a segment
    /// without any has no entry.
    var transactionIndexes: [Int64: TransactionIndex] = [:]
    /// Compaction's progress: the closed segments below this offset are clean.
    var firstDirtyOffset: Int64 = 0
    /// The earliest delete horizon of the tombstones compaction kept: once it passes, a pass
    /// is due to drop them even with nothing new to clean.
    var earliestDeleteHorizon: Int64?
    /// Held for a whole compaction pass (most of it outside `lock`), by deletion and by
    /// truncation, so that a pass never writes into a directory being removed nor swaps in a
    /// copy of data cut meanwhile.
    let compactionLock = Lock()
    /// Set when the partition's files are about to go: a running pass stops at its next batch.
    let isDeleted = Atomic(false)
    /// Tests only (nothing else sets it): runs between a compaction pass's copies and its
    /// swap, with the lock free.
    nonisolated(unsafe) var beforeCompactionSwap: (() -> Void)?
    /// Called after each append with the new log end offset (Fetch long-polls wake on it).
    /// Runs on the appending thread, with the lock released. Set under the lock: another
    /// connection may append as soon as the partition exists.
    public var onAppend: (@Sendable (Int64) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return appendHook }
        set { lock.lock(); defer { lock.unlock() }; appendHook = newValue }
    }
    private var appendHook: (@Sendable (Int64) -> Void)?

    /// At most this many refused records are named in one answer: a small compressed batch
    /// can hold millions.
    public static let maximumListedRecordErrors = 1_000

    static let logStartFile = "log-start-offset"
    static let recoveryPointFile = "recovery-point"
    /// Compaction's progress (Kafka's cleaner-offset-checkpoint), and the latest delete
    /// horizon it wrote, so a restart neither rereads clean segments nor forgets tombstones.
    static let cleanerOffsetFile = "cleaner-offset-checkpoint"
    static let deleteHorizonFile = "cleaner-delete-horizon"

    private init(topicPartition: TopicPartition, directory: String, store: any FileStore,
                 segments: [Segment], configuration: LogConfiguration, startOffset: Int64) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.store = store
        self.segments = segments
        self.configuration = configuration
        self.startOffset = startOffset
    }

    /// A new, empty partition log.
    public static func create(_ topicPartition: TopicPartition, store: any FileStore, configuration: LogConfiguration,
                              now: Int64) throws(LogError) -> PartitionLog {
        let directory = topicPartition.directoryName
        do {
            try store.makeDirectory(directory)
            let segment = try Segment.create(store: store, directory: directory, baseOffset: 0,
                                             indexIntervalBytes: configuration.indexIntervalBytes, now: now)
            let log = PartitionLog(topicPartition: topicPartition, directory: directory, store: store, segments: [segment],
                                   configuration: configuration, startOffset: 0)
            try log.writeCheckpoint(Self.logStartFile, 0)
            return log
        } catch {
            throw .io(error)
        }
    }

    /// Opens an existing partition directory. After an unclean stop (`recover`), every
    /// segment past the recovery point is re-read with CRC checks; a bad batch cuts the log
    /// there (what follows it is dropped, as Kafka does).
    public static func open(_ topicPartition: TopicPartition, store: any FileStore, configuration: LogConfiguration,
                            recover: Bool, now: Int64) throws(LogError) -> (log: PartitionLog, recovery: [RecoveryEvent]) {
        let directory = topicPartition.directoryName
        let names: [String]
        do { names = try store.list(directory) } catch { throw .io(error) }
        // A compaction that stopped before its rename leaves a .cleaned copy: the original stands.
        for name in names where name.hasSuffix(".cleaned") || name.hasSuffix(".snapshot.tmp") { try? store.remove(directory + "/" + name) }
        var bases = names.filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.sorted()
        let recoveryPoint = (try? readCheckpoint(store: store, path: directory + "/" + recoveryPointFile)) ?? 0
        var segments: [Segment] = []
        var events: [RecoveryEvent] = []
        while !bases.isEmpty {
            let base = bases.removeFirst()
            let (segment, event) = try Segment.open(store: store, directory: directory, baseOffset: base,
                                                   indexIntervalBytes: configuration.indexIntervalBytes,
                                                   recover: recover && (bases.isEmpty || bases[0] > recoveryPoint), now: now)
            segments.append(segment)
            if let event { events.append(event) }
            if event != nil && !bases.isEmpty {
                // A hole in the middle: later segments cannot follow it.
                for later in bases {
                    events.append(RecoveryEvent(path: directory + "/" + Segment.fileName(later, ".log"), position: 0,
                                                truncatedBytes: -1, reason: "follows a damaged segment; removed"))
                    for path in Segment.files(baseOffset: later, directory: directory) { try? store.remove(path) }
                }
                bases = []
            }
        }
        if segments.isEmpty {
            do {
                segments = [try Segment.create(store: store, directory: directory, baseOffset: 0,
                                               indexIntervalBytes: configuration.indexIntervalBytes, now: now)]
            } catch { throw .io(error) }
        }
        let savedStart = (try? readCheckpoint(store: store, path: directory + "/" + logStartFile)) ?? segments[0].baseOffset
        let end = segments.last!.nextOffset
        let start = min(max(savedStart, segments[0].baseOffset), end)
        let log = PartitionLog(topicPartition: topicPartition, directory: directory, store: store, segments: segments,
                               configuration: configuration, startOffset: start)
        do {
            for segment in segments where names.contains(Segment.fileName(segment.baseOffset, ".txnindex")) {
                log.transactionIndexes[segment.baseOffset] = try TransactionIndex(
                    store: store, path: directory + "/" + Segment.fileName(segment.baseOffset, ".txnindex"))
            }
            try log.rebuildProducerState()
        } catch { throw .io(error) }
        // A checkpoint past a log cut short by recovery no longer describes it.
        log.firstDirtyOffset = min((try? readCheckpoint(store: store, path: directory + "/" + cleanerOffsetFile)) ?? 0, end)
        log.earliestDeleteHorizon = try? readCheckpoint(store: store, path: directory + "/" + deleteHorizonFile)
        return (log, events)
    }

    // MARK: State

    public var logStartOffset: Int64 {
        lock.lock(); defer { lock.unlock() }
        return startOffset
    }

    /// The next offset to be assigned.
    public var logEndOffset: Int64 {
        lock.lock(); defer { lock.unlock() }
        return segments.last!.nextOffset
    }

    /// On a single node every appended batch is committed: the high watermark is the log end.
    public var highWatermark: Int64 { logEndOffset }

    public var sizeInBytes: Int64 {
        lock.lock(); defer { lock.unlock() }
        return segments.reduce(0) { $0 + $1.size }
    }

    public var segmentCount: Int {
        lock.lock(); defer { lock.unlock() }
        return segments.count
    }

    public var segmentBaseOffsets: [Int64] {
        lock.lock(); defer { lock.unlock() }
        return segments.map(\.baseOffset)
    }

    public var currentConfiguration: LogConfiguration {
        lock.lock(); defer { lock.unlock() }
        return configuration
    }

    public func update(configuration newConfiguration: LogConfiguration) {
        lock.lock(); defer { lock.unlock() }
        configuration = newConfiguration
    }

    // MARK: Append

    /// Validates every batch (framing, magic 2, CRC, record count, size) before writing
    /// anything, assigns offsets by patching baseOffset and partitionLeaderEpoch in place
    /// (compressed batches stay as they are), stamps LogAppendTime where the topic asks for
    /// it, and appends all of them in one write.
    public func append(_ records: [UInt8], leaderEpoch: Int32, now: Int64) throws(LogError) -> AppendResult {
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.batches(in: records)
        } catch {
            throw .invalidBatch(index: 0, error)
        }
        lock.lock()
        let limit = configuration.maximumBatchBytes
        let policy = configuration.timestampPolicy
        let before = configuration.timestampBeforeMaxMilliseconds
        let after = configuration.timestampAfterMaxMilliseconds
        let compacts = configuration.cleanupPolicy.compacts
        lock.unlock()
        // Every header parsed and every marker read here, before the partition lock.
        var parsed: [(header: RecordBatchHeader, marker: TransactionMarker?)] = []
        parsed.reserveCapacity(batches.count)
        for (index, batch) in batches.enumerated() {
            // The size first, as Kafka: an oversized batch is not inflated to be refused.
            if batch.totalSize > limit { throw .batchTooLarge(size: batch.totalSize, limit: limit) }
            let keyless: [Int32]
            do {
                try batch.validate()
                // A compacted log keeps the latest value per key: a record without one has no
                // place in it (Kafka's INVALID_RECORD), found on the same walk.
                keyless = try batch.validateRecordFraming(listingKeyless: compacts && !batch.isControl ? Self.maximumListedRecordErrors : 0)
                parsed.append((RecordBatchHeader(records, at: batch.start)!, batch.isControl ? try TransactionMarker(batch: batch) : nil))
            } catch {
                throw .invalidBatch(index: index, error)
            }
            if !keyless.isEmpty { throw .keylessRecords(keyless) }
            // From the header alone (no per-record work): the newest and the first timestamp.
            if policy == .createTime && !batch.isControl {
                if batch.maxTimestamp > now.clampedAdding(after) { throw .invalidTimestamp(timestamp: batch.maxTimestamp, now: now) }
                if batch.baseTimestamp >= 0 && batch.baseTimestamp < now.clampedSubtracting(before) {
                    throw .invalidTimestamp(timestamp: batch.baseTimestamp, now: now)
                }
            }
        }
        guard !batches.isEmpty else { throw .invalidBatch(index: 0, .truncated(needed: RecordBatchLayout.headerSize, available: 0)) }

        // Offsets and the leader epoch go into each batch's first 16 bytes: written from a
        // patch, so the request's batch is not copied. LogAppendTime rewrites more (the
        // CRC), so that case patches a copy.
        var bytes = records
        var patches: [(position: Int, bytes: [UInt8])] = []
        lock.lock()
        // Roll first, so that a snapshot written at the roll holds the producer state as of
        // the segment boundary, before this append is recorded.
        do { try rollIfNeeded(incomingBytes: bytes.count, now: now) } catch {
            lock.unlock()
            throw .io(error)
        }
        var next = segments.last!.nextOffset
        let baseOffset = next
        var headers: [RecordBatchHeader] = []
        headers.reserveCapacity(batches.count)
        // The producer state is updated in place as each batch passes its check (a later
        // batch of the same producer must follow it); `undo` puts back what this append
        // touched if it fails, without copying the whole state on every append.
        var undo: [Int64: ProducerState.Entry?] = [:]
        var aborted: [AbortedTransaction] = []
        func rollBack() { for (producerId, entry) in undo { producers.restore(producerId, entry) } }
        for (batch, (parsedHeader, marker)) in zip(batches, parsed) {
            var header = parsedHeader
            switch producers.check(header) {
            case .failure(let error):
                rollBack()
                lock.unlock()
                throw .sequence(error)
            case .success(.duplicate(let firstOffset, let lastOffset)) where batches.count == 1:
                let start = startOffset
                lock.unlock()
                return AppendResult(baseOffset: firstOffset, lastOffset: lastOffset, logAppendTime: -1,
                                    logStartOffset: start, isDuplicate: true)
            case .success:
                break
            }
            if policy == .logAppendTime {
                RecordBatch.assignOffsets(in: &bytes, batchStart: batch.start, baseOffset: next, partitionLeaderEpoch: leaderEpoch)
                RecordBatch.setLogAppendTime(now, in: &bytes, batchStart: batch.start)
                header = RecordBatchHeader(bytes, at: batch.start)!  // attributes, maxTimestamp and CRC changed
            } else {
                patches.append((batch.start, RecordBatch.headerPatch(baseOffset: next, batchLength: header.batchLength,
                                                                      partitionLeaderEpoch: leaderEpoch)))
            }
            header.baseOffset = next
            header.partitionLeaderEpoch = leaderEpoch
            if header.producerId >= 0 && !undo.keys.contains(header.producerId) {
                undo[header.producerId] = .some(producers.entry(for: header.producerId))
            }
            if let marker {
                // A transaction marker: COMMIT or ABORT ends the producer's transaction.
                if let first = producers.endTransaction(header), marker.type == .abort {
                    aborted.append(AbortedTransaction(producerId: header.producerId, firstOffset: first, lastOffset: header.lastOffset,
                                                      lastStableOffset: -1))
                }
            } else {
                producers.record(header)
            }
            headers.append(header)
            next += Int64(batch.lastOffsetDelta) + 1
        }
        let result: AppendResult
        do {
            try segments.last!.append(bytes, patches: patches, batches: headers)
            result = AppendResult(baseOffset: baseOffset, lastOffset: next - 1,
                                  logAppendTime: policy == .logAppendTime ? now : -1, logStartOffset: startOffset)
        } catch {
            rollBack()
            lock.unlock()
            throw .io(error)
        }
        // The data is written: a failing index write cannot undo it. The entry is rebuilt from
        // the marker when the log is next opened after it.
        for var entry in aborted {
            entry.lastStableOffset = min(producers.firstUnstableOffset ?? next, next)
            try? transactionIndex(for: segments.last!).append(entry)
        }
        let notify = appendHook
        lock.unlock()
        notify?(next)
        return result
    }

    /// Lock held. Starts a new segment when the active one would pass segment.bytes or is
    /// older than segment.ms (never for an empty segment).
    private func rollIfNeeded(incomingBytes: Int, now: Int64) throws(SystemCallError) {
        let active = segments.last!
        guard active.size > 0 else { return }
        let full = active.size + Int64(incomingBytes) > configuration.segmentBytes
            || active.size + Int64(incomingBytes) > Int64(UInt32.max)  // index positions are 32-bit
        let old = now - active.createdMilliseconds >= configuration.rollMilliseconds
        if full || old { try rollLocked(now: now) }
    }

    /// Lock held.
    private func rollLocked(now: Int64) throws(SystemCallError) {
        try writeProducerSnapshot()
        let segment = try Segment.create(store: store, directory: directory, baseOffset: segments.last!.nextOffset,
                                         indexIntervalBytes: configuration.indexIntervalBytes, now: now)
        segments.append(segment)
    }

    /// Starts a new segment now (tests, and compaction of the old active segment).
    public func roll(now: Int64) throws(LogError) {
        lock.lock(); defer { lock.unlock() }
        guard segments.last!.size > 0 else { return }
        do { try rollLocked(now: now) } catch { throw .io(error) }
    }

    /// Lock held or not yet shared. Loads the newest sound producer-state snapshot at or
    /// below the log end and replays the batch headers after it (61 bytes each); with no
    /// snapshot, the whole log.
    private func rebuildProducerState() throws(SystemCallError) {
        let end = segments.last!.nextOffset
        var state = ProducerState()
        var from: Int64 = segments.first!.baseOffset
        for offset in snapshotOffsets().reversed() where offset <= end {
            guard let file = try? store.open(directory + "/" + Segment.fileName(offset, ".snapshot"), create: false),
                  let size = try? file.size(), let bytes = try? file.read(count: Int(size), at: 0),
                  let loaded = ProducerState.load(snapshot: bytes), loaded.offset == offset else { continue }
            state = loaded.state
            from = offset
            break
        }
        for segment in segments where segment.nextOffset > from {
            // Aborted transactions past the snapshot are indexed again by the replay.
            try transactionIndexes[segment.baseOffset]?.truncate(below: from)
            var position: Int64 = 0
            while let location = try segment.batch(at: position) {
                let header = location.header
                if header.baseOffset >= from {
                    if header.isControl {
                        let first = state.endTransaction(header)
                        if let first, try marker(at: location, in: segment)?.type == .abort {
                            try transactionIndex(for: segment).append(AbortedTransaction(
                                producerId: header.producerId, firstOffset: first, lastOffset: header.lastOffset,
                                lastStableOffset: min(state.firstUnstableOffset ?? header.lastOffset + 1, header.lastOffset + 1)))
                        }
                    } else {
                        state.record(header)
                    }
                }
                position = location.end
            }
        }
        state.dropBefore(startOffset)
        producers = state
    }

    /// The marker of a control batch on disk; nil when it cannot be read as one.
    private func marker(at location: BatchLocation, in segment: Segment) throws(SystemCallError) -> TransactionMarker? {
        let bytes = try segment.log.read(count: location.size, at: location.position)
        return (try? RecordBatch(bytes: bytes)).flatMap { try? TransactionMarker(batch: $0) }
    }

    /// Lock held. The segment's aborted-transaction index, created on first use.
    private func transactionIndex(for segment: Segment) throws(SystemCallError) -> TransactionIndex {
        if let existing = transactionIndexes[segment.baseOffset] { return existing }
        let index = try TransactionIndex(store: store, path: directory + "/" + Segment.fileName(segment.baseOffset, ".txnindex"))
        transactionIndexes[segment.baseOffset] = index
        return index
    }

    /// Offsets of the snapshot files present, ascending.
    private func snapshotOffsets() -> [Int64] {
        ((try? store.list(directory)) ?? []).filter { $0.hasSuffix(".snapshot") }
            .compactMap { Int64($0.dropLast(".snapshot".count)) }.sorted()
    }

    /// Lock held. Writes the producer state as of the log end (at a roll and at a clean
    /// shutdown, as Kafka does) and keeps the newest two snapshots.
    private func writeProducerSnapshot() throws(SystemCallError) {
        let end = segments.last!.nextOffset
        let path = directory + "/" + Segment.fileName(end, ".snapshot")
        let file = try store.open(path + ".tmp", create: true)
        try System.ftruncate(file.descriptor, length: 0)
        try file.write(producers.snapshot(at: end), at: 0)
        try store.sync(file)
        try store.rename(path + ".tmp", to: path)
        for old in snapshotOffsets().dropLast(2) { try? store.remove(directory + "/" + Segment.fileName(old, ".snapshot")) }
    }

    // MARK: Transactions

    /// Where read_committed readers stop (Kafka's LSO).
    public var lastStableOffset: Int64 {
        lock.lock(); defer { lock.unlock() }
        return lastStableOffsetLocked
    }

    /// Lock held. The first offset of the oldest open transaction, else the log end;
    /// retention may have deleted the start of an open transaction (Kafka clamps too).
    private var lastStableOffsetLocked: Int64 {
        let end = segments.last!.nextOffset
        return max(min(producers.firstUnstableOffset ?? end, end), startOffset)
    }

    /// The aborted transactions a read_committed fetch of [from, to) must report: those
    /// whose marker is at or after `from` and which began before `to`.
    public func abortedTransactions(from: Int64, to: Int64) -> [AbortedTransaction] {
        lock.lock(); defer { lock.unlock() }
        return abortedTransactionsLocked(from: from, to: to)
    }

    /// Lock held. Nothing to scan in a partition that never saw an abort (the usual case).
    private func abortedTransactionsLocked(from: Int64, to: Int64) -> [AbortedTransaction] {
        guard !transactionIndexes.isEmpty else { return [] }
        var found: [AbortedTransaction] = []
        // A marker at or after `from` sits in a segment that ends after it: from the one
        // holding `from` on.
        for segment in segments[segmentIndex(containing: from)...] where segment.nextOffset > from {
            guard let index = transactionIndexes[segment.baseOffset] else { continue }
            found += index.entries.filter { $0.lastOffset >= from && $0.firstOffset < to }
        }
        return found
    }

    /// Appends a COMMIT or ABORT marker for the producer (the transaction coordinator's
    /// WriteTxnMarkers). Returns its offset.
    @discardableResult
    public func appendTransactionMarker(producerId: Int64, producerEpoch: Int16, commit: Bool, coordinatorEpoch: Int32,
                                        now: Int64) throws(LogError) -> Int64 {
        let marker = TransactionMarker(type: commit ? .commit : .abort, coordinatorEpoch: coordinatorEpoch)
        return try append(marker.batch(producerId: producerId, producerEpoch: producerEpoch, timestamp: now), leaderEpoch: 0, now: now).baseOffset
    }

    /// The producers with state in this partition (DescribeProducers).
    public var activeProducers: [ProducerSummary] {
        lock.lock(); defer { lock.unlock() }
        return producers.entries.sorted { $0.key < $1.key }.map { producerId, entry in
            ProducerSummary(producerId: producerId, producerEpoch: entry.epoch, lastSequence: entry.lastSequence,
                            lastTimestamp: entry.lastTimestamp, currentTransactionStartOffset: entry.currentTransactionFirstOffset ?? -1)
        }
    }

    // MARK: Read

    /// Reads from the batch that contains `offset` (a consumer asking for a mid-batch
    /// offset gets the whole batch and skips the records before it). At most `maxBytes`,
    /// except that with `minOneBatch` the first batch comes whole however large (KIP-74);
    /// the last batch may be cut at `maxBytes`, as Kafka does. `maxOffset` (exclusive)
    /// stops earlier; `readCommitted` stops at the last stable offset and names the aborted
    /// transactions up to it, all under one acquisition of the lock.
    public func read(from offset: Int64, maxBytes: Int, minOneBatch: Bool, maxOffset: Int64? = nil,
                     readCommitted: Bool = false) throws(LogError) -> ReadResult {
        lock.lock(); defer { lock.unlock() }
        let end = segments.last!.nextOffset
        guard offset >= startOffset && offset <= end else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: startOffset, logEndOffset: end)
        }
        let stable = lastStableOffsetLocked
        let limit = min(maxOffset ?? end, readCommitted ? stable : end)
        let aborted = readCommitted ? abortedTransactionsLocked(from: offset, to: stable) : []
        let empty = ReadResult(regions: [], highWatermark: end, logStartOffset: startOffset, lastStableOffset: stable,
                               abortedTransactions: aborted)
        guard offset < limit else { return empty }
        do {
            var index = segmentIndex(containing: offset)
            while index < segments.count {
                let segment = segments[index]
                if let first = try segment.locate(offset: offset), first.header.baseOffset < limit {
                    var stop = segment.size
                    if limit < segment.nextOffset {
                        // Up to the first batch at or past the limit.
                        var position = first.position
                        while let location = try segment.batch(at: position), location.header.baseOffset < limit {
                            position = location.end
                        }
                        stop = position
                    }
                    var length = Int(min(stop - first.position, Int64(maxBytes)))
                    if minOneBatch { length = max(length, first.size) }
                    guard length > 0 else { return empty }
                    return ReadResult(regions: [LogRegion(file: segment.log, position: first.position, length: length)],
                                      highWatermark: end, logStartOffset: startOffset, lastStableOffset: stable,
                                      abortedTransactions: aborted)
                }
                index += 1
            }
            return empty
        } catch {
            throw .io(error)
        }
    }

    /// Lock held. The last segment whose base offset is at or below `offset`.
    private func segmentIndex(containing offset: Int64) -> Int {
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
        lock.lock(); defer { lock.unlock() }
        do {
            for segment in segments where segment.maxTimestamp >= timestamp {
                guard let location = try segment.locate(timestamp: timestamp) else { continue }
                var found: Record?
                try forEachRecord(at: location, in: segment) { record in
                    if record.timestamp >= timestamp && record.offset >= startOffset { found = record }
                    return found == nil
                }
                if let found { return (found.offset, found.timestamp) }
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

    /// The record with the largest timestamp (ListOffsets -3, KIP-734); nil for an empty log.
    public func maxTimestampRecord() throws(LogError) -> (offset: Int64, timestamp: Int64)? {
        lock.lock(); defer { lock.unlock() }
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

    private func forEachRecord(at location: BatchLocation, in segment: Segment, _ body: (Record) -> Bool) throws {
        let bytes = try segment.log.read(count: location.size, at: location.position)
        do {
            try RecordBatch(bytes: bytes).forEachRecord(body)
        } catch {
            throw LogError.corruptSegment(path: segment.log.path, position: location.position, reason: error.description)
        }
    }

    // MARK: Deleting data

    /// Before the partition's files are removed: stops a running compaction pass (at its next
    /// batch, its copies dropped), waits for it to end, and keeps any other from starting.
    public func markDeleted() {
        isDeleted.store(true, ordering: .releasing)
        compactionLock.lock()
        compactionLock.unlock()
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high
    /// watermark) and deletes the segments wholly below it. Returns the new log start.
    @discardableResult
    public func deleteRecords(before offset: Int64, now: Int64) throws(LogError) -> Int64 {
        lock.lock(); defer { lock.unlock() }
        let end = segments.last!.nextOffset
        guard offset >= 0 && offset <= end else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: startOffset, logEndOffset: end)
        }
        guard offset > startOffset else { return startOffset }
        do {
            startOffset = offset
            try writeCheckpoint(Self.logStartFile, offset)
            try deleteSegments(now: now) { segment, _ in segment.nextOffset <= offset }
        } catch {
            throw .io(error)
        }
        return startOffset
    }

    /// Forgets idle producers (producer.id.expiration.ms): a client that made up producer
    /// ids, or years of short-lived idempotent producers, would otherwise keep state for
    /// ever. A retry from a forgotten producer starts it afresh, as in Kafka.
    public func removeExpiredProducers(now: Int64, expirationMilliseconds: Int64) -> Int {
        lock.lock(); defer { lock.unlock() }
        return producers.removeExpired(now: now, expiration: expirationMilliseconds)
    }

    /// Applies retention.ms and retention.bytes (delete policy only): whole segments go,
    /// oldest first, never the active one. Returns how many were deleted.
    @discardableResult
    public func applyRetention(now: Int64) throws(LogError) -> Int {
        lock.lock(); defer { lock.unlock() }
        guard configuration.cleanupPolicy.deletes else { return 0 }
        var total = segments.reduce(0) { $0 + $1.size }
        let retentionBytes = configuration.retentionBytes
        let retentionMilliseconds = configuration.retentionMilliseconds
        do {
            return try deleteSegments(now: now) { segment, isActive in
                if isActive { return false }
                let expired = retentionMilliseconds >= 0 && segment.maxTimestamp >= 0 && now - segment.maxTimestamp > retentionMilliseconds
                    || retentionMilliseconds >= 0 && segment.maxTimestamp < 0 && now - segment.createdMilliseconds > retentionMilliseconds
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

    /// Lock held. Deletes leading segments while `shouldDelete` says so; when every
    /// segment goes, a new empty one starts at the log end. Readers holding a deleted
    /// segment's file keep reading it until they let go.
    @discardableResult
    private func deleteSegments(now: Int64, _ shouldDelete: (Segment, Bool) -> Bool) throws(SystemCallError) -> Int {
        var deleted = 0
        while let first = segments.first, !(segments.count == 1 && first.size == 0), shouldDelete(first, segments.count == 1) {
            if segments.count == 1 {
                // Deleting the active segment (DeleteRecords to the end): start afresh.
                let end = first.nextOffset
                segments.append(try Segment.create(store: store, directory: directory, baseOffset: end,
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
        compactionLock.lock(); defer { compactionLock.unlock() }
        lock.lock(); defer { lock.unlock() }
        do {
            // Compaction's progress cannot lie past the data that is left (Kafka's
            // maybeTruncateCheckpoint).
            if firstDirtyOffset > offset {
                firstDirtyOffset = offset
                try writeCheckpoint(Self.cleanerOffsetFile, offset)
            }
            while segments.count > 1, segments.last!.baseOffset >= offset {
                let last = segments.removeLast()
                transactionIndexes[last.baseOffset] = nil
                for path in last.files(in: directory) { try? store.remove(path) }
            }
            try segments.last!.truncate(to: offset)
            for stale in snapshotOffsets() where stale > offset {
                try? store.remove(directory + "/" + Segment.fileName(stale, ".snapshot"))
            }
            try rebuildProducerState()
        } catch {
            throw .io(error)
        }
    }

    // MARK: Durability

    /// Forces the segments written since the last flush to disk and records the recovery point.
    public func flush() throws(LogError) {
        lock.lock()
        let synced = syncedOffset
        let files = segments.filter { $0.nextOffset > synced || $0 === segments.last }.map(\.log)
        let end = segments.last!.nextOffset
        lock.unlock()
        do {
            for file in files { try store.sync(file) }
            lock.lock(); defer { lock.unlock() }
            syncedOffset = max(syncedOffset, end)
            try writeCheckpoint(Self.recoveryPointFile, end)
        } catch {
            throw .io(error)
        }
    }

    /// Lock held (or not yet shared). Writes a small checkpoint file atomically.
    func writeCheckpoint(_ name: String, _ value: Int64) throws(SystemCallError) {
        let temporary = directory + "/" + name + ".tmp"
        let file = try store.open(temporary, create: true)
        try System.ftruncate(file.descriptor, length: 0)
        try file.write(Array("\(value)\n".utf8), at: 0)
        try store.sync(file)
        try store.rename(temporary, to: directory + "/" + name)
    }

    static func readCheckpoint(store: any FileStore, path: String) throws -> Int64? {
        let file = try store.open(path, create: false)
        let text = String(decoding: try file.read(count: 64, at: 0), as: UTF8.self)
        return Int64(text.filter { !$0.isWhitespace })
    }

    /// Writes the checkpoints a clean shutdown leaves: data flushed, producer state snapshotted.
    func closeCleanly() throws(LogError) {
        try flush()
        lock.lock(); defer { lock.unlock() }
        do { try writeProducerSnapshot() } catch { throw .io(error) }
    }
}

