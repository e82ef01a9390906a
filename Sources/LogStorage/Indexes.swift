// A segment's sparse offset index and time index, kept in memory and appended to their
// files in Kafka's layouts: `.index` entries are (int32 relative offset, int32 position),
// `.timeindex` entries (int64 timestamp, int32 relative offset), big-endian. Both are a
// SparseIndex of fixed-size entries that only grow; they differ in their entries and lookups.

import KafkaWire
import SystemCalls

protocol IndexEntry: Equatable {
    /// Bytes per entry on disk.
    static var size: Int { get }
    init(from reader: inout ByteReader) throws(DecodeError)
    func write(into writer: inout ByteWriter)
    /// Entries grow: an entry that does not follow the last one is not added (and a file
    /// where one does not is not an index).
    func follows(_ previous: Self) -> Bool
    /// Whether the entry can belong to a log of `logSize` bytes.
    func fits(logSize: Int64) -> Bool
}

/// The entries live in memory only while the segment is active (appended to, read most);
/// a sealed index keeps its count and last entry and searches its file, opened for the
/// lookup: closed segments cost neither descriptors nor resident memory, as Kafka's
/// memory-mapped, lazily opened indexes do not. The file is made on the first entry.
struct SparseIndex<Entry: IndexEntry> {
    let path: String
    let store: any FileStore
    /// The entries, while resident (nil once sealed).
    private var resident: [Entry]?
    private(set) var count = 0
    private(set) var last: Entry?
    /// Open for appends while resident; nil until the first entry.
    private var file: LogFile?

    /// An empty index whose file is made with its first entry.
    init(path: String, store: any FileStore) {
        self.path = path
        self.store = store
        resident = []
    }

    var isEmpty: Bool { count == 0 }
    var isResident: Bool { resident != nil }

    mutating func append(_ entry: Entry) throws(SystemCallError) {
        precondition(resident != nil, "appending to a sealed index")
        if let last, !entry.follows(last) { return }
        if file == nil {
            let opened = try store.open(path, create: true)
            try System.ftruncate(opened.descriptor, length: Int64(count * Entry.size))
            file = opened
        }
        var writer = ByteWriter(capacity: Entry.size)
        entry.write(into: &writer)
        try file!.write(writer.bytes, at: Int64(count) * Int64(Entry.size))
        resident!.append(entry)
        count += 1
        last = entry
    }

    /// Reads a sealed index's entries back into memory, to append to it again (its segment
    /// became the active one after a truncation).
    mutating func makeResident() throws(SystemCallError) {
        guard resident == nil else { return }
        var entries: [Entry] = []
        if count > 0 {
            let opened = try store.open(path, create: false)
            var reader = ByteReader(try opened.read(count: count * Entry.size, at: 0))
            while !reader.isAtEnd, let entry = try? Entry(from: &reader) { entries.append(entry) }
            file = opened
        }
        resident = entries
        count = entries.count
        last = entries.last
    }

    /// Drops the entries from memory and closes the file: later lookups read the file.
    mutating func seal() {
        resident = nil
        file = nil
    }

    /// The last entry for which `isBefore` holds, in entries sorted so that it holds for a
    /// prefix (binary search, over the file when sealed); nil when none does.
    func last(where isBefore: (Entry) -> Bool) throws(SystemCallError) -> Entry? {
        if let resident { return Self.search(count: resident.count, isBefore) { resident[$0] } }
        guard count > 0 else { return nil }
        let file = try store.open(path, create: false)
        var failure: SystemCallError?
        let found = Self.search(count: count, isBefore) { index in
            do {
                var reader = ByteReader(try file.read(count: Entry.size, at: Int64(index) * Int64(Entry.size)))
                return try Entry(from: &reader)
            } catch let error as SystemCallError {
                failure = error
            } catch {
                failure = SystemCallError(call: "read \(path)", errno: 5)  // EIO: shorter than its count
            }
            return nil
        }
        if let failure { throw failure }
        return found
    }

    /// Binary search over `count` entries read by `entry`; an entry that cannot be read
    /// ends the search.
    private static func search(count: Int, _ isBefore: (Entry) -> Bool, _ entry: (Int) -> Entry?) -> Entry? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            guard let candidate = entry(middle) else { return nil }
            if isBefore(candidate) { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : entry(low - 1)
    }

    /// Loads the file's entries, resident; nil when it is missing or not a well-formed
    /// index for a log of `logSize` bytes (then the caller rebuilds it).
    static func load(path: String, store: any FileStore, logSize: Int64) throws(SystemCallError) -> SparseIndex? {
        guard store.exists(path) else { return nil }
        let file = try store.open(path, create: false)
        let size = try file.size()
        guard size % Int64(Entry.size) == 0 else { return nil }
        let bytes = try file.read(count: Int(size), at: 0)
        var reader = ByteReader(bytes)
        var index = SparseIndex(path: path, store: store)
        var entries: [Entry] = []
        entries.reserveCapacity(bytes.count / Entry.size)
        while !reader.isAtEnd {
            guard let entry = try? Entry(from: &reader), entry.fits(logSize: logSize) else { return nil }
            if let last = entries.last, !entry.follows(last) { return nil }
            entries.append(entry)
        }
        // Every non-empty segment indexes its first batch: an empty index is a lost one.
        if entries.isEmpty && logSize > 0 { return nil }
        // The file is opened again for the next entry: a start-up holds no descriptor.
        index.resident = entries
        index.count = entries.count
        index.last = entries.last
        return index
    }

    /// Empties the index (a rebuild follows).
    mutating func reset() throws(SystemCallError) {
        resident = []
        count = 0
        last = nil
        if let file { try System.ftruncate(file.descriptor, length: 0) } else { try? store.remove(path) }
    }

    /// Drops the entries `isGone` picks (a suffix: after a truncation of the active segment).
    mutating func truncate(removing isGone: (Entry) -> Bool) throws(SystemCallError) {
        precondition(resident != nil, "truncating a sealed index")
        resident!.removeAll(where: isGone)
        count = resident!.count
        last = resident!.last
        if file == nil, store.exists(path) { file = try store.open(path, create: false) }
        if let file { try System.ftruncate(file.descriptor, length: Int64(count * Entry.size)) }
    }
}

struct OffsetIndexEntry: IndexEntry {
    static let size = 8
    var relativeOffset: UInt32
    var position: UInt32

    func write(into writer: inout ByteWriter) {
        writer.writeUInt32(relativeOffset)
        writer.writeUInt32(position)
    }

    func follows(_ previous: Self) -> Bool { relativeOffset > previous.relativeOffset && position > previous.position }
    func fits(logSize: Int64) -> Bool { Int64(position) < logSize }
}

struct TimeIndexEntry: IndexEntry {
    static let size = 12
    var timestamp: Int64
    var relativeOffset: UInt32

    func write(into writer: inout ByteWriter) {
        writer.writeInt64(timestamp)
        writer.writeUInt32(relativeOffset)
    }

    /// Sorted by time and by offset.
    func follows(_ previous: Self) -> Bool { timestamp > previous.timestamp && relativeOffset > previous.relativeOffset }
    func fits(logSize: Int64) -> Bool { true }
}

// Decoders in extensions, so each entry keeps its synthesized memberwise initializer.
extension OffsetIndexEntry {
    init(from reader: inout ByteReader) throws(DecodeError) {
        self.init(relativeOffset: try reader.readUInt32(), position: try reader.readUInt32())
    }
}

extension TimeIndexEntry {
    init(from reader: inout ByteReader) throws(DecodeError) {
        self.init(timestamp: try reader.readInt64(), relativeOffset: try reader.readUInt32())
    }
}

typealias OffsetIndex = SparseIndex<OffsetIndexEntry>
typealias TimeIndex = SparseIndex<TimeIndexEntry>

extension SparseIndex where Entry == OffsetIndexEntry {
    /// Appends an entry for a batch whose last offset is `baseOffset + relativeOffset`,
    /// starting at byte `position`.
    mutating func append(relativeOffset: UInt32, position: UInt32) throws(SystemCallError) {
        try append(OffsetIndexEntry(relativeOffset: relativeOffset, position: position))
    }

    /// The position to start scanning from for `relativeOffset`: the last indexed batch
    /// ending at or before it (0 when none).
    func position(before relativeOffset: UInt32) throws(SystemCallError) -> Int64 {
        Int64(try last { $0.relativeOffset <= relativeOffset }?.position ?? 0)
    }

    /// Drops entries at or past `position` (after a truncation).
    mutating func truncate(toPosition position: Int64) throws(SystemCallError) {
        try truncate { Int64($0.position) >= position }
    }
}

extension SparseIndex where Entry == TimeIndexEntry {
    /// Appends when the timestamp grows: entries stay sorted by time and by offset.
    mutating func append(timestamp: Int64, relativeOffset: UInt32) throws(SystemCallError) {
        try append(TimeIndexEntry(timestamp: timestamp, relativeOffset: relativeOffset))
    }

    /// The relative offset to start a search for the first timestamp >= `timestamp`: the
    /// offset of the last entry whose timestamp is below it (0 when none).
    func relativeOffset(before timestamp: Int64) throws(SystemCallError) -> UInt32 {
        try last { $0.timestamp < timestamp }?.relativeOffset ?? 0
    }

    mutating func truncate(toRelativeOffset relative: UInt32) throws(SystemCallError) {
        try truncate { $0.relativeOffset >= relative }
    }
}
