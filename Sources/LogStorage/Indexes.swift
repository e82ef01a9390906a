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

struct SparseIndex<Entry: IndexEntry> {
    private(set) var entries: [Entry] = []
    let file: LogFile

    init(file: LogFile) { self.file = file }

    mutating func append(_ entry: Entry) throws(SystemCallError) {
        if let last = entries.last, !entry.follows(last) { return }
        entries.append(entry)
        var writer = ByteWriter(capacity: Entry.size)
        entry.write(into: &writer)
        try file.write(writer.bytes, at: Int64(entries.count - 1) * Int64(Entry.size))
    }

    /// The last entry for which `isBefore` holds, in entries sorted so that it holds for a
    /// prefix (binary search); nil when none does.
    func last(where isBefore: (Entry) -> Bool) -> Entry? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if isBefore(entries[middle]) { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : entries[low - 1]
    }

    /// Loads the file's entries; nil when it is not a well-formed index for a log of
    /// `logSize` bytes (then the caller rebuilds it).
    static func load(file: LogFile, logSize: Int64) throws(SystemCallError) -> SparseIndex? {
        let size = try file.size()
        guard size % Int64(Entry.size) == 0 else { return nil }
        let bytes = try file.read(count: Int(size), at: 0)
        var reader = ByteReader(bytes)
        var index = SparseIndex(file: file)
        while !reader.isAtEnd {
            guard let entry = try? Entry(from: &reader), entry.fits(logSize: logSize) else { return nil }
            if let last = index.entries.last, !entry.follows(last) { return nil }
            index.entries.append(entry)
        }
        // Every non-empty segment indexes its first batch: an empty index is a lost one.
        return index.entries.isEmpty && logSize > 0 ? nil : index
    }

    mutating func reset() throws(SystemCallError) {
        entries = []
        try System.ftruncate(file.descriptor, length: 0)
    }

    /// Drops the entries `isGone` picks (a suffix: after a truncation).
    mutating func truncate(removing isGone: (Entry) -> Bool) throws(SystemCallError) {
        entries.removeAll(where: isGone)
        try System.ftruncate(file.descriptor, length: Int64(entries.count * Entry.size))
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
    func position(before relativeOffset: UInt32) -> Int64 {
        Int64(last { $0.relativeOffset <= relativeOffset }?.position ?? 0)
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
    func relativeOffset(before timestamp: Int64) -> UInt32 {
        last { $0.timestamp < timestamp }?.relativeOffset ?? 0
    }

    mutating func truncate(toRelativeOffset relative: UInt32) throws(SystemCallError) {
        try truncate { $0.relativeOffset >= relative }
    }
}
