// One segment of a partition log: `<baseOffset>.log` with its `.index` and `.timeindex`.
// Appends go to the end of the file; reads return file regions; recovery walks the
// batches, checks each CRC, and cuts a torn or corrupt tail. Files open on first use, and a
// sealed (closed) segment keeps neither index entries in memory nor index descriptors.

import KafkaRecords
import Synchronization
import SystemCalls

/// A segment that recovery had to cut: which file, from which byte, how much, and why.
public struct RecoveryEvent: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let position: Int64
    public let truncatedBytes: Int64
    public let reason: String
    /// Damage in a segment that had been flushed (below the recovery point): the bytes are
    /// kept as they are, never cut, and the event is an error rather than a repaired tail.
    public var inFlushedSegment = false

    public var description: String {
        inFlushedSegment
            ? "\(path): damaged flushed segment, \(truncatedBytes) bytes from byte \(position) cannot be read (kept, not cut): \(reason)"
            : "\(path): cut \(truncatedBytes) bytes from byte \(position): \(reason)"
    }
}

/// Where one batch sits in a segment, from its header.
struct BatchLocation: Equatable {
    var position: Int64
    var header: RecordBatchHeader
    var size: Int { header.totalSize }
    var end: Int64 { position + Int64(size) }
}

final class Segment {
    let baseOffset: Int64
    let logPath: String
    private let store: any FileStore
    /// The log file, opened on first use and kept (reads hand it to sendfile).
    private let openLog = Mutex<LogFile?>(nil)
    private(set) var offsetIndex: OffsetIndex
    private(set) var timeIndex: TimeIndex
    private(set) var size: Int64
    /// The offset after this segment's last batch (its base offset when empty).
    private(set) var nextOffset: Int64
    private(set) var maxTimestamp: Int64 = -1
    private(set) var offsetOfMaxTimestamp: Int64 = -1
    /// Wall-clock time this segment was created or last reopened (segment.ms rolls).
    let createdMilliseconds: Int64
    private var bytesSinceLastIndexEntry = 0
    let indexIntervalBytes: Int
    /// Why the last rebuild cut the file, when it did.
    private(set) var truncationReason: String?

    /// Kafka's largestTimestamp: the newest record's, or when the records carry none, the
    /// log file's last modification (what min.compaction.lag.ms is measured against).
    var largestTimestamp: Int64 {
        maxTimestamp >= 0 ? maxTimestamp : (try? System.modificationMilliseconds(log().descriptor)) ?? createdMilliseconds
    }

    /// The segment's log file, opened when first needed.
    func log() throws(SystemCallError) -> LogFile {
        try openLog.withLock { (file: inout LogFile?) throws(SystemCallError) -> LogFile in
            if let file { return file }
            let opened = try store.open(logPath, create: false)
            file = opened
            return opened
        }
    }

    /// Lets go of the log file's descriptor until the next use (readers holding it keep it).
    func closeLog() {
        openLog.withLock { $0 = nil }
    }

    /// A closed segment: its indexes leave memory and their descriptors close, and so does
    /// the log's until a read needs it.
    func seal() {
        offsetIndex.seal()
        timeIndex.seal()
        closeLog()
    }

    /// The first batch's newest timestamp (what max.compaction.lag.ms counts from); nil when
    /// it has none, as Kafka leaves such segments out.
    var firstBatchTimestamp: Int64? {
        guard let first = try? batch(at: 0), first.header.maxTimestamp > 0 else { return nil }
        return first.header.maxTimestamp
    }

    /// Compaction writes a segment's cleaned copy beside it, as these files with this suffix,
    /// and renames them over the segment's own.
    static let cleanedSuffix = ".cleaned"
    static let cleanedFiles = [".log", ".index", ".timeindex"]

    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    private init(
        baseOffset: Int64, store: any FileStore, logPath: String, offsetIndex: OffsetIndex, timeIndex: TimeIndex, size: Int64,
        indexIntervalBytes: Int, now: Int64
    ) {
        self.baseOffset = baseOffset
        self.store = store
        self.logPath = logPath
        self.offsetIndex = offsetIndex
        self.timeIndex = timeIndex
        self.size = size
        self.nextOffset = baseOffset
        self.indexIntervalBytes = indexIntervalBytes
        self.createdMilliseconds = now
    }

    /// A new, empty segment: its log file now, its index files with their first entries.
    static func create(store: any FileStore, directory: String, baseOffset: Int64, indexIntervalBytes: Int, now: Int64)
        throws(SystemCallError) -> Segment
    {
        let prefix = directory + "/" + fileName(baseOffset, "")
        let log = try store.open(prefix + ".log", create: true)
        try System.ftruncate(log.descriptor, length: 0)
        // Index files left by an earlier life of this offset would describe other data.
        for suffix in [".index", ".timeindex"] where store.exists(prefix + suffix) { try store.remove(prefix + suffix) }
        let segment = Segment(
            baseOffset: baseOffset, store: store, logPath: prefix + ".log",
            offsetIndex: OffsetIndex(path: prefix + ".index", store: store),
            timeIndex: TimeIndex(path: prefix + ".timeindex", store: store), size: 0, indexIntervalBytes: indexIntervalBytes,
            now: now)
        segment.openLog.withLock { $0 = log }
        return segment
    }

    /// Opens an existing segment. `recover` walks and CRC-checks every batch, cutting the
    /// file at the first invalid one, and rebuilds both indexes; otherwise the indexes are
    /// loaded (and rebuilt only when missing or malformed) and the tail is found from them.
    /// A flushed segment that is not the active one (`mayCut` false) is never cut: damage
    /// found in it is reported and the bytes stay, as Kafka leaves them to its readers.
    /// `suffix` opens a copy beside the segment's files (compaction's `.cleaned` set).
    static func open(
        store: any FileStore, directory: String, baseOffset: Int64, indexIntervalBytes: Int,
        recover: Bool, mayCut: Bool = true, now: Int64, suffix: String = ""
    ) throws(LogError) -> (segment: Segment, recovery: RecoveryEvent?) {
        let prefix = directory + "/" + fileName(baseOffset, "")
        do {
            let log = try store.open(prefix + ".log" + suffix, create: false)
            let size = try log.size()
            let indexPath = prefix + ".index" + suffix
            let timePath = prefix + ".timeindex" + suffix
            let loadedIndex = recover ? nil : try OffsetIndex.load(path: indexPath, store: store, logSize: size)
            let loadedTime = recover ? nil : try TimeIndex.load(path: timePath, store: store, logSize: size)
            let segment = Segment(
                baseOffset: baseOffset, store: store, logPath: prefix + ".log" + suffix,
                offsetIndex: loadedIndex ?? OffsetIndex(path: indexPath, store: store),
                timeIndex: loadedTime ?? TimeIndex(path: timePath, store: store), size: size,
                indexIntervalBytes: indexIntervalBytes, now: now)
            segment.openLog.withLock { $0 = log }
            let truncated: Int64
            if recover || loadedIndex == nil || loadedTime == nil {
                truncated = try segment.rebuild(validateCRC: recover, cut: mayCut)
            } else {
                truncated = try segment.findTail(mayCut: mayCut)
            }
            guard truncated > 0 else { return (segment, nil) }
            var event = RecoveryEvent(
                path: segment.logPath, position: segment.size - (mayCut ? 0 : truncated), truncatedBytes: truncated,
                reason: segment.truncationReason ?? "unreadable tail")
            event.inFlushedSegment = !recover
            return (segment, event)
        } catch let error as SystemCallError {
            throw .io(error)
        } catch let error as LogError {
            throw error
        } catch {
            throw .io(SystemCallError(call: "open segment \(prefix)", errno: 5))
        }
    }

    // MARK: Walking batches

    /// The batch header at `position`, or nil at the end of the data or where the bytes
    /// there are not a plausible batch.
    func batch(at position: Int64, limit: Int64? = nil) throws(SystemCallError) -> BatchLocation? {
        let end = limit ?? size
        guard end - position >= Int64(RecordBatchLayout.headerSize) else { return nil }
        let bytes = try log().read(count: RecordBatchLayout.headerSize, at: position)
        guard let header = RecordBatchHeader(bytes), header.hasPlausibleLength, header.magic == 2,
            position + Int64(header.totalSize) <= end
        else { return nil }
        return BatchLocation(position: position, header: header)
    }

    /// Re-reads every batch, rebuilding both indexes; with `validateCRC`, also checks each
    /// batch's CRC. Returns how many bytes follow the last good batch, which `cut` removes.
    private func rebuild(validateCRC: Bool, cut: Bool = true) throws -> Int64 {
        try offsetIndex.reset()
        try timeIndex.reset()
        bytesSinceLastIndexEntry = 0
        maxTimestamp = -1
        offsetOfMaxTimestamp = -1
        var position: Int64 = 0
        var expectedNext = baseOffset
        truncationReason = nil
        while true {
            guard let location = try batch(at: position) else {
                if position < size { truncationReason = "incomplete or malformed batch header (a torn write)" }
                break
            }
            if validateCRC {
                let bytes = try log().read(count: location.size, at: position)
                do {
                    try RecordBatch(bytes: bytes).validate(denseOffsets: false)
                } catch {
                    truncationReason = error.description
                    break
                }
            }
            // Offsets only grow; a batch going backwards is garbage.
            guard location.header.baseOffset >= expectedNext else {
                truncationReason = "offset \(location.header.baseOffset) goes backwards (expected \(expectedNext) or more)"
                break
            }
            index(location)
            expectedNext = location.header.lastOffset + 1
            position = location.end
        }
        let truncated = size - position
        if truncated > 0 && cut {
            try System.ftruncate(log().descriptor, length: position)
            size = position
        }
        nextOffset = expectedNext
        return truncated
    }

    /// After a clean shutdown: the index says where the last indexed batch starts; walk
    /// from there to the end to find the next offset and max timestamp.
    private func findTail(mayCut: Bool) throws -> Int64 {
        // The max timestamp needs every batch after the last time-index entry; the simple
        // way is a header walk from the last offset-index entry, plus the time index's last.
        if let last = timeIndex.last {
            maxTimestamp = last.timestamp
            offsetOfMaxTimestamp = baseOffset + Int64(last.relativeOffset)
        }
        var position = Int64(offsetIndex.last?.position ?? 0)
        var next = baseOffset
        while let location = try batch(at: position) {
            next = location.header.lastOffset + 1
            if location.header.maxTimestamp > maxTimestamp {
                maxTimestamp = location.header.maxTimestamp
                offsetOfMaxTimestamp = location.header.lastOffset
            }
            position = location.end
        }
        if position != size {
            // The clean-shutdown marker lied or the index is stale: fall back to a full check.
            return try rebuild(validateCRC: true, cut: mayCut)
        }
        nextOffset = next
        return 0
    }

    /// Indexes a batch written at `location`. An entry that cannot be written (a full disk)
    /// is left out rather than failing a write whose data is in: the indexes are sparse, and
    /// a lookup scans from the entry before.
    private func index(_ location: BatchLocation) {
        let relative = UInt32(truncatingIfNeeded: location.header.lastOffset - baseOffset)
        if offsetIndex.isEmpty || bytesSinceLastIndexEntry >= indexIntervalBytes {
            if (try? offsetIndex.append(relativeOffset: relative, position: UInt32(location.position))) != nil {
                bytesSinceLastIndexEntry = 0
            }
        }
        bytesSinceLastIndexEntry += location.size
        if location.header.maxTimestamp > maxTimestamp {
            maxTimestamp = location.header.maxTimestamp
            offsetOfMaxTimestamp = location.header.lastOffset
            try? timeIndex.append(timestamp: maxTimestamp, relativeOffset: relative)
        }
    }

    // MARK: Appending and reading

    /// Appends whole, already validated batches in one write, each with its assigned offset
    /// (in `bytes`, or in `patches` over them).
    func append(_ bytes: [UInt8], patches: [(position: Int, bytes: [UInt8])] = [], batches: [RecordBatchHeader]) throws(SystemCallError) {
        try log().write(bytes, patches: patches, at: size)
        var position = size
        for header in batches {
            index(BatchLocation(position: position, header: header))
            position += Int64(header.totalSize)
            nextOffset = header.lastOffset + 1
        }
        size = position
    }

    /// The first batch whose last offset is at or past `offset`.
    func locate(offset: Int64) throws(SystemCallError) -> BatchLocation? {
        let relative = UInt32(truncatingIfNeeded: max(0, offset - baseOffset))
        var position = try offsetIndex.position(before: relative)
        while let location = try batch(at: position) {
            if location.header.lastOffset >= offset { return location }
            position = location.end
        }
        return nil
    }

    /// The offset after the last batch from `start` that ends within the segment's first
    /// `limit` bytes: what a reader of a region cut there gets up to. The walk starts at the
    /// last offset-index entry within the limit, so it reads at most an index interval of
    /// batch headers.
    func offsetAfterWholeBatches(from start: BatchLocation, endingBy limit: Int64) throws(SystemCallError) -> Int64 {
        var next = start.header.baseOffset
        var position = start.position
        if let entry = try offsetIndex.last(where: { Int64($0.position) <= limit }), Int64(entry.position) > position,
            let indexed = try batch(at: Int64(entry.position))
        {
            // Every batch before the indexed one ends before it, so within the limit.
            next = indexed.header.baseOffset
            position = indexed.position
        }
        while let location = try batch(at: position), location.end <= limit {
            next = location.header.lastOffset + 1
            position = location.end
        }
        return next
    }

    /// The first batch whose max timestamp is at or past `timestamp`.
    func locate(timestamp: Int64) throws(SystemCallError) -> BatchLocation? {
        let start = baseOffset + Int64(try timeIndex.relativeOffset(before: timestamp))
        guard var location = try locate(offset: start) else { return nil }
        while location.header.maxTimestamp < timestamp {
            guard let next = try batch(at: location.end) else { return nil }
            location = next
        }
        return location
    }

    /// Cuts the segment so that `offset` becomes its next offset.
    func truncate(to offset: Int64) throws(SystemCallError) {
        // The segment is the active one from now on, even when nothing is cut.
        try offsetIndex.makeResident()
        try timeIndex.makeResident()
        guard offset < nextOffset else { return }
        var position: Int64 = 0
        var next = baseOffset
        while let location = try batch(at: position), location.header.lastOffset < offset {
            position = location.end
            next = location.header.lastOffset + 1
        }
        try System.ftruncate(log().descriptor, length: position)
        size = position
        nextOffset = max(next, baseOffset)
        try offsetIndex.truncate(toPosition: position)
        try timeIndex.truncate(toRelativeOffset: UInt32(truncatingIfNeeded: max(0, offset - baseOffset)))
        maxTimestamp = timeIndex.last?.timestamp ?? -1
        offsetOfMaxTimestamp = timeIndex.last.map { baseOffset + Int64($0.relativeOffset) } ?? -1
        bytesSinceLastIndexEntry = indexIntervalBytes
    }

    /// The files a segment may have, by suffix.
    static let fileSuffixes = [".log", ".index", ".timeindex", ".txnindex"]

    func files(in directory: String) -> [String] { Self.files(baseOffset: baseOffset, directory: directory) }

    static func files(baseOffset: Int64, directory: String) -> [String] {
        fileSuffixes.map { directory + "/" + fileName(baseOffset, $0) }
    }
}
