// The log of one partition: its segments, log start and end offsets, appends that assign
// offsets in place, reads that return file regions for sendfile, lookups by timestamp,
// DeleteRecords and retention. One lock, held only for the append or the lookup.

import KafkaRecords
import KafkaWire
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
    /// The size of the batch the read starts with; 0 when there is nothing to read.
    public var firstBatchSize = 0
    /// The offset the first batch of the read starts at (-1 when there is nothing to read).
    public var firstBatchOffset: Int64 = -1
    /// The offset after the read's last batch when the read holds whole batches only (it
    /// reached the readable end, not a byte limit); nil otherwise.
    public var endOffset: Int64?
    public var byteCount: Int { regions.reduce(0) { $0 + $1.length } }

    /// How many bytes of a read of `available` bytes, whose first batch is `firstBatchSize`,
    /// Kafka's LogSegment.read returns within `maxBytes`: with `minOneBatch` the first batch
    /// whole however large (KIP-74); without, nothing when the first batch does not fit (Kafka
    /// then answers the partition empty, from Fetch v3 on, rather than with a cut batch). A
    /// later batch may be cut at `maxBytes`.
    public static func length(available: Int, firstBatchSize: Int, maxBytes: Int, minOneBatch: Bool) -> Int {
        if minOneBatch { return min(available, max(maxBytes, firstBatchSize)) }
        return maxBytes < firstBatchSize ? 0 : min(available, maxBytes)
    }
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
    var startOffset: Int64
    /// Everything below this offset has been forced to disk.
    var syncedOffset: Int64 = 0
    /// Called with the lock held when a segment rolls, to have the segments before it
    /// flushed off the appending thread (as Kafka flushes at a roll).
    var rollHook: (@Sendable (PartitionLog) -> Void)?
    /// Idempotent producers' epochs and last batches, and open transactions.
    var producers = ProducerState()
    /// Each segment's aborted transactions (`.txnindex`), by segment base offset; a segment
    /// without any has no entry.
    var transactionIndexes: [Int64: TransactionIndex] = [:]
    /// Compaction's progress: the closed segments below this offset are clean.
    var firstDirtyOffset: Int64 = 0
    /// A replicated partition's high watermark (its leader's, from the in-sync replicas' log
    /// ends); nil for one replica, where every appended batch is committed at once.
    var replicatedHighWatermark: Int64?
    /// The leader epochs in this log and where each began (what OffsetForLeaderEpoch answers
    /// and a rejoining follower truncates by).
    var leaderEpochs = LeaderEpochCache()
    /// Whether `leaderEpochFile` exists: a log that has only known epoch 0 (every single
    /// broker's) writes none, so that a new partition costs no extra fsync.
    var leaderEpochsOnDisk = false
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
    /// Called after each append, and each move of the high watermark, with the log end offset
    /// (Fetch long-polls wake on it).
    /// Runs on the appending thread, with the lock released. Set under the lock: another
    /// connection may append as soon as the partition exists.
    public var onAppend: (@Sendable (Int64) -> Void)? {
        get { lock.withLock { appendHook } }
        set { lock.withLock { appendHook = newValue } }
    }
    var appendHook: (@Sendable (Int64) -> Void)?

    /// At most this many refused records are named in one answer: a small compressed batch
    /// can hold millions.
    public static let maximumListedRecordErrors = 1_000

    static let logStartFile = "log-start-offset"
    static let recoveryPointFile = "recovery-point"
    /// Compaction's progress (Kafka's cleaner-offset-checkpoint), and the latest delete
    /// horizon it wrote, so a restart neither rereads clean segments nor forgets tombstones.
    static let cleanerOffsetFile = "cleaner-offset-checkpoint"
    static let deleteHorizonFile = "cleaner-delete-horizon"
    /// A replicated partition's high watermark as last checkpointed (Kafka's
    /// replication-offset-checkpoint): a restarted follower cuts its log there, not at its end,
    /// since what lies past it may never have been committed. An old value is safe (more is
    /// fetched again), a missing one means everything is.
    static let highWatermarkFile = "replication-high-watermark"
    /// The leader epochs (Kafka's leader-epoch-checkpoint), rewritten when one begins or a
    /// truncation drops one. Missing, every batch was written in epoch 0.
    static let leaderEpochFile = "leader-epoch-checkpoint"

    private init(
        topicPartition: TopicPartition, directory: String, store: any FileStore,
        segments: [Segment], configuration: LogConfiguration, startOffset: Int64
    ) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.store = store
        self.segments = segments
        self.configuration = configuration
        self.startOffset = startOffset
    }

    /// A new, empty partition log.
    public static func create(
        _ topicPartition: TopicPartition, store: any FileStore, configuration: LogConfiguration,
        now: Int64
    ) throws(LogError) -> PartitionLog {
        let directory = topicPartition.directoryName
        do {
            try store.makeDirectory(directory)
            let segment = try Segment.create(
                store: store, directory: directory, baseOffset: 0,
                indexIntervalBytes: configuration.indexIntervalBytes, now: now)
            // No log-start checkpoint yet: without one the log starts at its first segment,
            // 0 (one fsync less per partition, which thousands of new partitions feel).
            let log = PartitionLog(
                topicPartition: topicPartition, directory: directory, store: store, segments: [segment],
                configuration: configuration, startOffset: 0)
            log.leaderEpochs.assign(epoch: 0, startOffset: 0)
            return log
        } catch {
            throw .io(error)
        }
    }

    /// Opens an existing partition directory. After an unclean stop (`recover`), every
    /// segment past the recovery point is re-read with CRC checks; a bad batch cuts the log
    /// there (what follows it is dropped, as Kafka does). Segments below the recovery point
    /// are trusted: damage found in one is reported and never cut.
    public static func open(
        _ topicPartition: TopicPartition, store: any FileStore, configuration: LogConfiguration,
        recover: Bool, now: Int64
    ) throws(LogError) -> (log: PartitionLog, recovery: [RecoveryEvent]) {
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
            // Wholly below the recovery point: forced to disk before the stop, so not re-read.
            let flushed = !bases.isEmpty && bases[0] <= recoveryPoint
            let (segment, event) = try Segment.open(
                store: store, directory: directory, baseOffset: base,
                indexIntervalBytes: configuration.indexIntervalBytes,
                recover: recover && !flushed, mayCut: !flushed, now: now)
            segments.append(segment)
            if let event { events.append(event) }
            // Closed segments keep no index in memory and no descriptor open.
            if !bases.isEmpty, event?.inFlushedSegment ?? true { segment.seal() }
            if let event, !event.inFlushedSegment, !bases.isEmpty {
                // A hole in the middle: later segments cannot follow it.
                for later in bases {
                    events.append(
                        RecoveryEvent(
                            path: directory + "/" + Segment.fileName(later, ".log"), position: 0,
                            truncatedBytes: -1, reason: "follows a damaged segment; removed"))
                    for path in Segment.files(baseOffset: later, directory: directory) { try? store.remove(path) }
                }
                bases = []
            }
        }
        if segments.isEmpty {
            do {
                segments = [
                    try Segment.create(
                        store: store, directory: directory, baseOffset: 0,
                        indexIntervalBytes: configuration.indexIntervalBytes, now: now)
                ]
            } catch { throw .io(error) }
        }
        let savedStart = (try? readCheckpoint(store: store, path: directory + "/" + logStartFile)) ?? segments[0].baseOffset
        let end = segments.last!.nextOffset
        let start = min(max(savedStart, segments[0].baseOffset), end)
        let log = PartitionLog(
            topicPartition: topicPartition, directory: directory, store: store, segments: segments,
            configuration: configuration, startOffset: start)
        do {
            for segment in segments where names.contains(Segment.fileName(segment.baseOffset, ".txnindex")) {
                log.transactionIndexes[segment.baseOffset] = try TransactionIndex(
                    store: store, path: directory + "/" + Segment.fileName(segment.baseOffset, ".txnindex"))
            }
            // The checkpoint first: replaying the batches past the producer snapshot adds the
            // epochs begun since it was written.
            let checkpoint = try? store.open(directory + "/" + leaderEpochFile, create: false).read(count: 1 << 16, at: 0)
            if let checkpoint, let cache = LeaderEpochCache(checkpointText: String(decoding: checkpoint, as: UTF8.self)) {
                log.leaderEpochs = cache
                log.leaderEpochsOnDisk = true
            } else {
                log.leaderEpochs.assign(epoch: 0, startOffset: start)
            }
            let loaded = log.leaderEpochs
            // Epochs begun past a log cut short by recovery are gone with it.
            log.leaderEpochs.truncate(from: end + 1)
            try log.rebuildProducerState()
            if log.leaderEpochs != loaded { log.saveLeaderEpochs() }
        } catch { throw .io(error) }
        log.syncedOffset = min(recoveryPoint, end)
        // Opened again by the first append or read: a start-up holds no descriptor per partition.
        log.segments.last!.closeLog()
        // A checkpoint past a log cut short by recovery no longer describes it.
        log.firstDirtyOffset = min((try? readCheckpoint(store: store, path: directory + "/" + cleanerOffsetFile)) ?? 0, end)
        log.earliestDeleteHorizon = try? readCheckpoint(store: store, path: directory + "/" + deleteHorizonFile)
        log.replicatedHighWatermark = try? readCheckpoint(store: store, path: directory + "/" + highWatermarkFile)
        return (log, events)
    }

    // MARK: State

    public var logStartOffset: Int64 { lock.withLock { startOffset } }

    /// The next offset to be assigned.
    public var logEndOffset: Int64 { lock.withLock { segments.last!.nextOffset } }

    /// What consumers may read up to: the log end with one replica, else the offset every
    /// in-sync replica has reached (never past the log end here).
    public var highWatermark: Int64 { lock.withLock { highWatermarkLocked } }

    /// The high watermark replication set (or a restart read back); nil when there is none.
    public var replicationHighWatermark: Int64? { lock.withLock { replicatedHighWatermark } }

    /// Lock held.
    var highWatermarkLocked: Int64 {
        let end = segments.last!.nextOffset
        return replicatedHighWatermark.map { max(min($0, end), startOffset) } ?? end
    }

    /// Replication: the high watermark moves up to `offset` (the leader's from its in-sync
    /// replicas, a follower's from its leader's answers); nil when the partition has one
    /// replica again. Parked fetches wake when it moves.
    public func setHighWatermark(_ offset: Int64?) {
        let (moved, hook, end) = lock.withLock {
            let before = highWatermarkLocked
            // Never back: two threads may report moves out of order.
            replicatedHighWatermark = offset.map { new in replicatedHighWatermark.map { max($0, new) } ?? new }
            return (highWatermarkLocked != before, appendHook, segments.last!.nextOffset)
        }
        if moved { hook?(end) }
    }

    // MARK: Leader epochs

    /// The epochs this log holds and where each began.
    public var leaderEpochCache: LeaderEpochCache { lock.withLock { leaderEpochs } }

    /// The latest epoch this log was written in (0 for a single broker).
    public var latestLeaderEpoch: Int32 { lock.withLock { leaderEpochs.latestEpoch ?? 0 } }

    /// This broker leads the partition from now on in `epoch`, which begins at the log end
    /// (Kafka's leader-epoch assignment on becoming leader, before any append of the epoch).
    public func becomeLeader(epoch: Int32) {
        lock.withLock { noteLeaderEpoch(epoch, at: segments.last!.nextOffset) }
    }

    /// OffsetForLeaderEpoch: the largest epoch at or below `epoch` and where it ends; nil
    /// when this log knows no epoch that old.
    public func endOffset(forLeaderEpoch epoch: Int32) -> (epoch: Int32, endOffset: Int64)? {
        lock.withLock { leaderEpochs.endOffset(for: epoch, logEndOffset: segments.last!.nextOffset) }
    }

    /// Lock held. An epoch seen beginning at `offset` (an append, a copy, a new leadership).
    func noteLeaderEpoch(_ epoch: Int32, at offset: Int64) {
        if leaderEpochs.assign(epoch: epoch, startOffset: offset) { saveLeaderEpochs() }
    }

    /// Lock held (or not yet shared). Rewrites the checkpoint; a failure leaves the old one,
    /// which the next open corrects from the batches past the producer snapshot.
    func saveLeaderEpochs() {
        guard leaderEpochsOnDisk || leaderEpochs.entries.contains(where: { $0.epoch != 0 }) else { return }
        if (try? writeCheckpoint(Self.leaderEpochFile, text: leaderEpochs.checkpointText)) != nil { leaderEpochsOnDisk = true }
    }

    public var sizeInBytes: Int64 { lock.withLock { segments.reduce(0) { $0 + $1.size } } }

    public var segmentCount: Int { lock.withLock { segments.count } }

    public var segmentBaseOffsets: [Int64] { lock.withLock { segments.map(\.baseOffset) } }

    public var currentConfiguration: LogConfiguration { lock.withLock { configuration } }

    public func update(configuration newConfiguration: LogConfiguration) {
        lock.withLock { configuration = newConfiguration }
    }

    // MARK: Producer state

    /// Lock held or not yet shared. Loads the newest sound producer-state snapshot at or
    /// below the log end and replays the batch headers after it (61 bytes each); with no
    /// snapshot, the whole log.
    func rebuildProducerState() throws(SystemCallError) {
        let end = segments.last!.nextOffset
        var state = ProducerState()
        var from: Int64 = segments.first!.baseOffset
        for offset in snapshotOffsets().reversed() where offset <= end {
            guard let file = try? store.open(directory + "/" + Segment.fileName(offset, ".snapshot"), create: false),
                let size = try? file.size(), let bytes = try? file.read(count: Int(size), at: 0),
                let loaded = ProducerState.load(snapshot: bytes), loaded.offset == offset
            else { continue }
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
                            try transactionIndex(for: segment).append(
                                AbortedTransaction(
                                    producerId: header.producerId, firstOffset: first, lastOffset: header.lastOffset,
                                    lastStableOffset: min(state.firstUnstableOffset ?? header.lastOffset + 1, header.lastOffset + 1)))
                        }
                    } else {
                        state.record(header)
                    }
                    leaderEpochs.assign(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset)
                }
                position = location.end
            }
        }
        state.dropBefore(startOffset)
        producers = state
    }

    /// The marker of a control batch on disk; nil when it cannot be read as one.
    private func marker(at location: BatchLocation, in segment: Segment) throws(SystemCallError) -> TransactionMarker? {
        let bytes = try segment.log().read(count: location.size, at: location.position)
        return (try? RecordBatch(bytes: bytes)).flatMap { try? TransactionMarker(batch: $0) }
    }

    /// Lock held. The segment's aborted-transaction index, created on first use.
    func transactionIndex(for segment: Segment) throws(SystemCallError) -> TransactionIndex {
        if let existing = transactionIndexes[segment.baseOffset] { return existing }
        let index = try TransactionIndex(store: store, path: directory + "/" + Segment.fileName(segment.baseOffset, ".txnindex"))
        transactionIndexes[segment.baseOffset] = index
        return index
    }

    /// Offsets of the snapshot files present, ascending.
    func snapshotOffsets() -> [Int64] {
        ((try? store.list(directory)) ?? []).filter { $0.hasSuffix(".snapshot") }
            .compactMap { Int64($0.dropLast(".snapshot".count)) }.sorted()
    }

    /// Lock held. Writes the producer state as of the log end (at a roll and at a clean
    /// shutdown, as Kafka does) and keeps the newest two snapshots.
    func writeProducerSnapshot() throws(SystemCallError) {
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
    public var lastStableOffset: Int64 { lock.withLock { lastStableOffsetLocked } }

    /// Lock held. The first offset of the oldest open transaction, else the log end;
    /// retention may have deleted the start of an open transaction (Kafka clamps too).
    var lastStableOffsetLocked: Int64 {
        let end = highWatermarkLocked
        return max(min(producers.firstUnstableOffset ?? end, end), startOffset)
    }

    /// The aborted transactions a read_committed fetch of [from, to) must report: those
    /// whose marker is at or after `from` and which began before `to`.
    public func abortedTransactions(from: Int64, to: Int64) -> [AbortedTransaction] {
        lock.withLock { abortedTransactionsLocked(from: from, to: to) }
    }

    /// Lock held. Nothing to scan in a partition that never saw an abort (the usual case).
    func abortedTransactionsLocked(from: Int64, to: Int64) -> [AbortedTransaction] {
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

    /// The producers with state in this partition (DescribeProducers).
    public var activeProducers: [ProducerSummary] {
        lock.withLock {
            producers.entries.sorted { $0.key < $1.key }.map { producerId, entry in
                ProducerSummary(
                    producerId: producerId, producerEpoch: entry.epoch, lastSequence: entry.lastSequence,
                    lastTimestamp: entry.lastTimestamp, currentTransactionStartOffset: entry.currentTransactionFirstOffset ?? -1)
            }
        }
    }

    // MARK: Durability

    /// Forces the segments written since the last flush to disk and records the recovery point.
    public func flush() throws(LogError) {
        do {
            let (files, end) = try lock.withLock { () throws(SystemCallError) in
                (
                    try segments.filter { $0.nextOffset > syncedOffset || $0 === segments.last }.map { segment throws(SystemCallError) in
                        try segment.log()
                    }, segments.last!.nextOffset
                )
            }
            for file in files { try store.sync(file) }
            try lock.withLock { () throws(SystemCallError) in
                // A flush queued at a roll may run after a deletion, when the directory
                // name may already hold a new partition of the same name.
                guard !isDeleted.load(ordering: .acquiring), end > syncedOffset else { return }
                syncedOffset = end
                try writeCheckpoint(Self.recoveryPointFile, end)
            }
        } catch {
            throw .io(error)
        }
    }

    /// Lock held (or not yet shared). Writes a small checkpoint file atomically.
    func writeCheckpoint(_ name: String, _ value: Int64) throws(SystemCallError) {
        try writeCheckpoint(name, text: "\(value)\n")
    }

    func writeCheckpoint(_ name: String, text: String) throws(SystemCallError) {
        let temporary = directory + "/" + name + ".tmp"
        let file = try store.open(temporary, create: true)
        try System.ftruncate(file.descriptor, length: 0)
        try file.write(Array(text.utf8), at: 0)
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
        do { try lock.withLock { () throws(SystemCallError) in try writeProducerSnapshot() } } catch { throw .io(error) }
        if lock.withLock({ replicatedHighWatermark != nil }) { try checkpointHighWatermark() }
    }

    /// Records a replicated partition's high watermark (periodically and at a clean stop),
    /// or removes the record once the partition has one replica again.
    public func checkpointHighWatermark() throws(LogError) {
        let highWatermark = lock.withLock { replicatedHighWatermark.map { _ in highWatermarkLocked } }
        do throws(SystemCallError) {
            if let highWatermark {
                try writeCheckpoint(Self.highWatermarkFile, highWatermark)
            } else if (try? store.list(directory))?.contains(Self.highWatermarkFile) == true {
                try store.remove(directory + "/" + Self.highWatermarkFile)
            }
        } catch {
            throw .io(error)
        }
    }
}
