// The aborted transactions of one segment, in Kafka's `<baseOffset>.txnindex` layout: one
// 34-byte entry per aborted transaction whose ABORT marker is in the segment (int16 version
// 0, int64 producer id, first offset, last offset, last stable offset). read_committed
// fetches use it to tell consumers which records to drop.

import KafkaWire
import SystemCalls

public struct AbortedTransaction: Equatable, Sendable {
    public var producerId: Int64
    public var firstOffset: Int64
    /// The offset of the ABORT marker.
    public var lastOffset: Int64
    /// The partition's last stable offset once the marker was written.
    public var lastStableOffset: Int64
}

final class TransactionIndex {
    static let entrySize = 34
    let path: String
    private(set) var entries: [AbortedTransaction]
    private var file: LogFile?
    private let store: any FileStore

    /// Loads the file when it exists; a torn last entry is dropped.
    init(store: any FileStore, path: String) throws(SystemCallError) {
        self.store = store
        self.path = path
        entries = []
        guard store.exists(path) else { return }
        let opened = try store.open(path, create: false)
        let whole = (Int(try opened.size()) / Self.entrySize) * Self.entrySize
        var reader = ByteReader(try opened.read(count: whole, at: 0))
        do {
            while reader.remaining >= Self.entrySize {
                _ = try reader.readInt16()  // version 0
                entries.append(
                    AbortedTransaction(
                        producerId: try reader.readInt64(), firstOffset: try reader.readInt64(),
                        lastOffset: try reader.readInt64(), lastStableOffset: try reader.readInt64()))
            }
        } catch {}  // not reached: only whole entries are read
        file = opened
        if Int64(whole) != (try opened.size()) { try System.ftruncate(opened.descriptor, length: Int64(whole)) }
    }

    func append(_ entry: AbortedTransaction) throws(SystemCallError) {
        if file == nil { file = try store.open(path, create: true) }
        var writer = ByteWriter(capacity: Self.entrySize)
        writer.writeInt16(0)
        for value in [entry.producerId, entry.firstOffset, entry.lastOffset, entry.lastStableOffset] { writer.writeInt64(value) }
        try file!.write(writer.takeBytes(), at: Int64(entries.count * Self.entrySize))
        entries.append(entry)
    }

    /// Keeps the entries whose marker lies below `offset` (recovery replays the rest).
    func truncate(below offset: Int64) throws(SystemCallError) {
        let kept = entries.prefix { $0.lastOffset < offset }
        guard kept.count < entries.count else { return }
        entries = Array(kept)
        if let file { try System.ftruncate(file.descriptor, length: Int64(entries.count * Self.entrySize)) }
    }
}
