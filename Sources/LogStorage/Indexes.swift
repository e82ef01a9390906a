// A segment's sparse offset index and time index, kept in memory and appended to their
// files in Kafka's layouts: `.index` entries are (int32 relative offset, int32 position),
// `.timeindex` entries (int64 timestamp, int32 relative offset), big-endian.

import KafkaWire
import SystemCalls

struct OffsetIndex {
    struct Entry: Equatable {
        var relativeOffset: UInt32
        var position: UInt32
    }

    private(set) var entries: [Entry] = []
    let file: LogFile

    init(file: LogFile) { self.file = file }

    /// Appends an entry for a batch whose last offset is `baseOffset + relativeOffset`,
    /// starting at byte `position`.
    mutating func append(relativeOffset: UInt32, position: UInt32) throws(SystemCallError) {
        if let last = entries.last, last.relativeOffset >= relativeOffset { return }
        entries.append(Entry(relativeOffset: relativeOffset, position: position))
        var writer = ByteWriter(capacity: 8)
        writer.writeUInt32(relativeOffset)
        writer.writeUInt32(position)
        try file.write(writer.bytes, at: Int64(entries.count - 1) * 8)
    }

    /// The position to start scanning from for `relativeOffset`: the last indexed batch
    /// ending at or before it (0 when none).
    func position(before relativeOffset: UInt32) -> Int64 {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].relativeOffset <= relativeOffset { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : Int64(entries[low - 1].position)
    }

    /// Loads the file's entries; nil when it is not a well-formed index for a log of
    /// `logSize` bytes (then the caller rebuilds it).
    static func load(file: LogFile, logSize: Int64) throws(SystemCallError) -> OffsetIndex? {
        let size = try file.size()
        guard size % 8 == 0 else { return nil }
        let bytes = try file.read(count: Int(size), at: 0)
        var reader = ByteReader(bytes)
        var index = OffsetIndex(file: file)
        while !reader.isAtEnd {
            guard let relative = try? reader.readUInt32(), let position = try? reader.readUInt32() else { return nil }
            if let last = index.entries.last, relative <= last.relativeOffset || position <= last.position { return nil }
            if Int64(position) >= logSize { return nil }
            index.entries.append(Entry(relativeOffset: relative, position: position))
        }
        // Every non-empty segment indexes its first batch: an empty index is a lost one.
        return index.entries.isEmpty && logSize > 0 ? nil : index
    }

    mutating func reset() throws(SystemCallError) {
        entries = []
        try System.ftruncate(file.descriptor, length: 0)
    }

    /// Drops entries at or past `position` (after a truncation).
    mutating func truncate(toPosition position: Int64) throws(SystemCallError) {
        entries.removeAll { Int64($0.position) >= position }
        try System.ftruncate(file.descriptor, length: Int64(entries.count) * 8)
    }
}

struct TimeIndex {
    struct Entry: Equatable {
        var timestamp: Int64
        var relativeOffset: UInt32
    }

    private(set) var entries: [Entry] = []
    let file: LogFile

    init(file: LogFile) { self.file = file }

    /// Appends when the timestamp grows: entries stay sorted by time and by offset.
    mutating func append(timestamp: Int64, relativeOffset: UInt32) throws(SystemCallError) {
        if let last = entries.last, timestamp <= last.timestamp || relativeOffset <= last.relativeOffset { return }
        entries.append(Entry(timestamp: timestamp, relativeOffset: relativeOffset))
        var writer = ByteWriter(capacity: 12)
        writer.writeInt64(timestamp)
        writer.writeUInt32(relativeOffset)
        try file.write(writer.bytes, at: Int64(entries.count - 1) * 12)
    }

    /// The relative offset to start a search for the first timestamp >= `timestamp`: the
    /// offset of the last entry whose timestamp is below it (0 when none).
    func relativeOffset(before timestamp: Int64) -> UInt32 {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].timestamp < timestamp { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : entries[low - 1].relativeOffset
    }

    static func load(file: LogFile, logSize: Int64) throws(SystemCallError) -> TimeIndex? {
        let size = try file.size()
        guard size % 12 == 0 else { return nil }
        let bytes = try file.read(count: Int(size), at: 0)
        var reader = ByteReader(bytes)
        var index = TimeIndex(file: file)
        while !reader.isAtEnd {
            guard let timestamp = try? reader.readInt64(), let relative = try? reader.readUInt32() else { return nil }
            if let last = index.entries.last, timestamp <= last.timestamp || relative <= last.relativeOffset { return nil }
            index.entries.append(Entry(timestamp: timestamp, relativeOffset: relative))
        }
        return index.entries.isEmpty && logSize > 0 ? nil : index
    }

    mutating func reset() throws(SystemCallError) {
        entries = []
        try System.ftruncate(file.descriptor, length: 0)
    }

    mutating func truncate(toRelativeOffset relative: UInt32) throws(SystemCallError) {
        entries.removeAll { $0.relativeOffset >= relative }
        try System.ftruncate(file.descriptor, length: Int64(entries.count) * 12)
    }
}
