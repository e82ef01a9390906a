// A view over one RecordBatch v2 (magic 2) in a byte buffer: the 61-byte header read in
// place, validation before anything is stored, and the in-place patches a broker makes
// (baseOffset and partitionLeaderEpoch, which the CRC does not cover).

import KafkaWire

public enum RecordBatchError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case invalidBatchLength(Int32)
    case unsupportedMagic(Int8)
    case crcMismatch(stored: UInt32, computed: UInt32)
    case recordCountMismatch(recordCount: Int32, lastOffsetDelta: Int32)
    case invalidRecord(String)
    case unknownCodec(Int16)
    case compression(CompressionError)

    public var description: String {
        switch self {
        case .truncated(let needed, let available): return "batch needs \(needed) bytes, \(available) present"
        case .invalidBatchLength(let length): return "invalid batch length \(length)"
        case .unsupportedMagic(let magic): return "unsupported magic \(magic) (only RecordBatch v2 is accepted)"
        case .crcMismatch(let stored, let computed): return "CRC mismatch: stored \(stored), computed \(computed)"
        case .recordCountMismatch(let count, let delta): return "record count \(count) does not match lastOffsetDelta \(delta)"
        case .invalidRecord(let reason): return "invalid record: \(reason)"
        case .unknownCodec(let code): return "unknown compression codec \(code)"
        case .compression(let error): return error.description
        }
    }
}

/// Timestamp type, bit 3 of the attributes.
public enum TimestampType: Sendable, Equatable {
    case createTime, logAppendTime
}

/// Offsets of the header fields within a batch (Kafka's DefaultRecordBatch layout).
public enum RecordBatchLayout {
    public static let baseOffset = 0
    public static let batchLength = 8
    public static let partitionLeaderEpoch = 12
    public static let magic = 16
    public static let crc = 17
    public static let attributes = 21
    public static let lastOffsetDelta = 23
    public static let baseTimestamp = 27
    public static let maxTimestamp = 35
    public static let producerId = 43
    public static let producerEpoch = 51
    public static let baseSequence = 53
    public static let recordCount = 57
    public static let recordsStart = 61
    /// baseOffset and batchLength precede what batchLength counts.
    public static let logOverhead = 12
    public static let headerSize = 61
}

/// One batch inside `bytes`, starting at `start`. Cheap to copy: it shares the buffer.
public struct RecordBatch: Sendable {
    public private(set) var bytes: [UInt8]
    public let start: Int

    /// Checks that a whole batch header and the length it claims are present; nothing
    /// else (call `validate()` for magic, CRC and counts).
    public init(bytes: [UInt8], start: Int = 0) throws(RecordBatchError) {
        let available = bytes.count - start
        guard available >= RecordBatchLayout.logOverhead else {
            throw .truncated(needed: RecordBatchLayout.logOverhead, available: available)
        }
        self.bytes = bytes
        self.start = start
        let length = batchLength
        guard length >= Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead) else {
            throw .invalidBatchLength(length)
        }
        guard Int(length) + RecordBatchLayout.logOverhead <= available else {
            throw .truncated(needed: Int(length) + RecordBatchLayout.logOverhead, available: available)
        }
    }

    // MARK: Header fields

    @inline(__always)
    private func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: start + offset, as: T.self)) }
    }

    @inline(__always)
    private mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let position = start + offset
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.bigEndian, toByteOffset: position, as: T.self) }
    }

    public var baseOffset: Int64 { load(RecordBatchLayout.baseOffset, as: Int64.self) }
    public var batchLength: Int32 { load(RecordBatchLayout.batchLength, as: Int32.self) }
    public var partitionLeaderEpoch: Int32 { load(RecordBatchLayout.partitionLeaderEpoch, as: Int32.self) }
    public var magic: Int8 { load(RecordBatchLayout.magic, as: Int8.self) }
    public var storedCRC: UInt32 { load(RecordBatchLayout.crc, as: UInt32.self) }
    public var attributes: Int16 { load(RecordBatchLayout.attributes, as: Int16.self) }
    public var lastOffsetDelta: Int32 { load(RecordBatchLayout.lastOffsetDelta, as: Int32.self) }
    public var baseTimestamp: Int64 { load(RecordBatchLayout.baseTimestamp, as: Int64.self) }
    public var maxTimestamp: Int64 { load(RecordBatchLayout.maxTimestamp, as: Int64.self) }
    public var producerId: Int64 { load(RecordBatchLayout.producerId, as: Int64.self) }
    public var producerEpoch: Int16 { load(RecordBatchLayout.producerEpoch, as: Int16.self) }
    public var baseSequence: Int32 { load(RecordBatchLayout.baseSequence, as: Int32.self) }
    public var recordCount: Int32 { load(RecordBatchLayout.recordCount, as: Int32.self) }

    /// The whole batch: baseOffset through the last record.
    public var totalSize: Int { Int(batchLength) + RecordBatchLayout.logOverhead }
    public var range: Range<Int> { start..<start + totalSize }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    public var nextOffset: Int64 { lastOffset + 1 }

    public var compressionCodecBits: Int16 { attributes & 0x07 }
    public var compression: CompressionCodec? { CompressionCodec(rawValue: compressionCodecBits) }
    public var timestampType: TimestampType { attributes & 0x08 != 0 ? .logAppendTime : .createTime }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var isControl: Bool { attributes & 0x20 != 0 }
    public var hasDeleteHorizon: Bool { attributes & 0x40 != 0 }
    /// Sequence of the last record (wrapping at Int32.max, as Kafka's sequences do).
    public var lastSequence: Int32 {
        baseSequence < 0 ? -1 : Int32(truncatingIfNeeded: (Int64(baseSequence) + Int64(lastOffsetDelta)) % (Int64(Int32.max) + 1))
    }
    public var hasProducerId: Bool { producerId >= 0 }

    /// CRC-32C over attributes through the end of the batch.
    public func computeCRC() -> UInt32 {
        CRC32C.checksum(bytes, range: start + RecordBatchLayout.attributes..<start + totalSize)
    }

    /// What a broker checks before storing a batch: magic 2, the CRC and a known codec,
    /// nothing per record. A producer's batch has dense offsets (recordCount ==
    /// lastOffsetDelta + 1); a compacted one may have fewer records than its offset span.
    public func validate(denseOffsets: Bool = true) throws(RecordBatchError) {
        guard magic == 2 else { throw .unsupportedMagic(magic) }
        let computed = computeCRC()
        guard computed == storedCRC else { throw .crcMismatch(stored: storedCRC, computed: computed) }
        guard compression != nil else { throw .unknownCodec(compressionCodecBits) }
        let countAgrees =
            denseOffsets
            ? Int64(recordCount) == Int64(lastOffsetDelta) + 1
            : recordCount >= 0 && Int64(recordCount) <= Int64(lastOffsetDelta) + 1
        guard lastOffsetDelta >= 0, countAgrees else {
            throw .recordCountMismatch(recordCount: recordCount, lastOffsetDelta: lastOffsetDelta)
        }
    }

    /// For a batch being appended: it holds exactly recordCount records, end to end, as
    /// Kafka requires of what a client sends. Walked by length prefixes only (no record is
    /// decoded); a compressed batch is inflated a piece at a time and nothing kept.
    /// (Recovery does not walk records, as Kafka's does not.)
    /// With `listingKeyless`, also returns the indexes of records without a key, at most that
    /// many (what a compacted topic refuses), read on the same walk.
    @discardableResult
    public func validateRecordFraming(
        decompressionLimit limit: Int = Compression.defaultLimit,
        listingKeyless keylessLimit: Int = 0
    ) throws(RecordBatchError) -> [Int32] {
        guard let codec = compression else { throw .unknownCodec(compressionCodecBits) }
        var framing = RecordFraming(claimed: recordCount, listingKeyless: keylessLimit)
        do {
            try Compression.inflate(bytes[recordsRange], codec: codec, limit: limit) { framing.feed($0) }
        } catch {
            throw .compression(error)
        }
        try framing.finish()
        return framing.keyless
    }

    // MARK: In-place patches

    /// Assigns the batch's offsets: the CRC does not cover baseOffset, so it stays valid.
    public mutating func setBaseOffset(_ offset: Int64) { store(offset, at: RecordBatchLayout.baseOffset) }

    public mutating func setPartitionLeaderEpoch(_ epoch: Int32) {
        store(epoch, at: RecordBatchLayout.partitionLeaderEpoch)
    }

    /// For LogAppendTime topics: sets the timestamp type and maxTimestamp, then the CRC,
    /// which covers both.
    public mutating func setLogAppendTime(_ timestamp: Int64) {
        RecordBatch.setLogAppendTime(timestamp, in: &bytes, batchStart: start)
    }

    // The same patches on a buffer the caller owns, so a log appending several batches of
    // one request patches them in place instead of copying the buffer per batch.

    public static func assignOffsets(in bytes: inout [UInt8], batchStart: Int, baseOffset: Int64, partitionLeaderEpoch: Int32) {
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: baseOffset.bigEndian, toByteOffset: batchStart + RecordBatchLayout.baseOffset, as: Int64.self)
            raw.storeBytes(
                of: partitionLeaderEpoch.bigEndian, toByteOffset: batchStart + RecordBatchLayout.partitionLeaderEpoch, as: Int32.self)
        }
    }

    /// The first 16 bytes of a batch with its offset and leader epoch assigned (baseOffset,
    /// batchLength, partitionLeaderEpoch), to write in place of the producer's.
    public static func headerPatch(baseOffset: Int64, batchLength: Int32, partitionLeaderEpoch: Int32) -> [UInt8] {
        var patch = [UInt8](repeating: 0, count: RecordBatchLayout.magic)
        patch.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: baseOffset.bigEndian, toByteOffset: RecordBatchLayout.baseOffset, as: Int64.self)
            raw.storeBytes(of: batchLength.bigEndian, toByteOffset: RecordBatchLayout.batchLength, as: Int32.self)
            raw.storeBytes(of: partitionLeaderEpoch.bigEndian, toByteOffset: RecordBatchLayout.partitionLeaderEpoch, as: Int32.self)
        }
        return patch
    }

    public static func setLogAppendTime(_ timestamp: Int64, in bytes: inout [UInt8], batchStart: Int) {
        bytes.withUnsafeMutableBytes { raw in
            let attributes = Int16(bigEndian: raw.loadUnaligned(fromByteOffset: batchStart + RecordBatchLayout.attributes, as: Int16.self))
            raw.storeBytes(of: (attributes | 0x08).bigEndian, toByteOffset: batchStart + RecordBatchLayout.attributes, as: Int16.self)
            raw.storeBytes(of: timestamp.bigEndian, toByteOffset: batchStart + RecordBatchLayout.maxTimestamp, as: Int64.self)
        }
        storeCRC(in: &bytes, batchStart: batchStart)
    }

    /// A client's batch marked LogAppendTime on a CreateTime topic: Kafka keeps it as
    /// CreateTime, so the attribute is cleared, then the CRC, which covers it, recomputed.
    public static func setCreateTime(in bytes: inout [UInt8], batchStart: Int) {
        bytes.withUnsafeMutableBytes { raw in
            let attributes = Int16(bigEndian: raw.loadUnaligned(fromByteOffset: batchStart + RecordBatchLayout.attributes, as: Int16.self))
            raw.storeBytes(of: (attributes & ~0x08).bigEndian, toByteOffset: batchStart + RecordBatchLayout.attributes, as: Int16.self)
        }
        storeCRC(in: &bytes, batchStart: batchStart)
    }

    private static func storeCRC(in bytes: inout [UInt8], batchStart: Int) {
        let batchEnd = bytes.withUnsafeBytes { raw in
            batchStart
                + Int(Int32(bigEndian: raw.loadUnaligned(fromByteOffset: batchStart + RecordBatchLayout.batchLength, as: Int32.self)))
                + RecordBatchLayout.logOverhead
        }
        let crc = CRC32C.checksum(bytes, range: batchStart + RecordBatchLayout.attributes..<batchEnd)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: crc.bigEndian, toByteOffset: batchStart + RecordBatchLayout.crc, as: UInt32.self)
        }
    }

    // MARK: Records

    /// The bytes of the records section as stored (compressed when the batch is).
    public var recordsRange: Range<Int> { start + RecordBatchLayout.recordsStart..<start + totalSize }

    /// Decodes every record, decompressing if needed; `limit` bounds the inflated size.
    public func records(decompressionLimit limit: Int = Compression.defaultLimit) throws(RecordBatchError) -> [Record] {
        var records: [Record] = []
        try forEachRecord(decompressionLimit: limit) {
            records.append($0)
            return true
        }
        return records
    }

    /// Decodes the records one at a time, in order, until `body` returns false. Memory stays
    /// at the decompressed payload (bounded by `limit`) whatever count the header claims:
    /// a small compressed batch can hold millions of tiny records.
    public func forEachRecord(
        decompressionLimit limit: Int = Compression.defaultLimit,
        _ body: (Record) -> Bool
    ) throws(RecordBatchError) {
        guard let codec = compression else { throw .unknownCodec(compressionCodecBits) }
        let payload: [UInt8]
        let payloadRange: Range<Int>
        if codec == .none {
            payload = bytes
            payloadRange = recordsRange
        } else {
            do {
                payload = try Compression.decompress(bytes[recordsRange], codec: codec, limit: limit)
            } catch {
                throw .compression(error)
            }
            payloadRange = 0..<payload.count
        }
        var reader = ByteReader(payload, range: payloadRange)
        do {
            for _ in 0..<max(recordCount, 0) {
                guard body(try Record(from: &reader, batch: self)) else { return }
            }
        } catch {
            throw .invalidRecord(error.description)
        }
        guard reader.isAtEnd else { throw .invalidRecord("\(reader.remaining) bytes after the last record") }
    }

    /// As `forEachRecord`, inflating a piece at a time: memory stays at one piece and the
    /// record being read, however far the batch inflates (a 13 KB compression bomb holds
    /// hundreds of megabytes of records). For readers of stored batches, such as compaction.
    public func forEachRecordInPieces(
        decompressionLimit limit: Int = Compression.defaultLimit,
        _ body: (Record) -> Bool
    ) throws(RecordBatchError) {
        guard let codec = compression else { throw .unknownCodec(compressionCodecBits) }
        if codec == .none { return try forEachRecord(decompressionLimit: limit, body) }
        var buffer: [UInt8] = []
        var decoded: Int32 = 0
        var failure: RecordBatchError?
        var stopped = false
        do throws(CompressionError) {
            try Compression.inflate(bytes[recordsRange], codec: codec, limit: limit) { piece in
                piece.withMemoryRebound(to: UInt8.self) { buffer.append(contentsOf: $0) }
                var consumed = 0
                defer { buffer.removeFirst(consumed) }
                while consumed < buffer.count {
                    // A record is read once its length prefix and all of its bytes are in.
                    var probe = ByteReader(buffer, range: consumed..<buffer.count)
                    guard let length = try? probe.readVarint() else {
                        if buffer.count - consumed >= 5 { failure = .invalidRecord("a record length that is not a varint") }
                        return failure == nil
                    }
                    guard length >= 0 else {
                        failure = .invalidRecord("a negative record length")
                        return false
                    }
                    guard probe.remaining >= Int(length) else { return true }
                    guard decoded < recordCount else {
                        failure = .invalidRecord("more records than the batch's count of \(recordCount)")
                        return false
                    }
                    var reader = ByteReader(buffer, range: consumed..<buffer.count)
                    let record: Record
                    do throws(DecodeError) {
                        record = try Record(from: &reader, batch: self)
                    } catch {
                        failure = .invalidRecord(error.description)
                        return false
                    }
                    consumed = reader.position
                    decoded += 1
                    guard body(record) else {
                        stopped = true
                        return false
                    }
                }
                return true
            }
        } catch {
            throw .compression(error)
        }
        if let failure { throw failure }
        if stopped { return }
        guard buffer.isEmpty else { throw .invalidRecord("\(buffer.count) bytes after the last record") }
        guard decoded == max(recordCount, 0) else { throw .invalidRecord("\(decoded) records, the batch's count says \(recordCount)") }
    }

    /// Splits a buffer holding consecutive batches (a Produce request's records, a
    /// segment's bytes). A trailing partial batch is an error unless `allowPartialTail`.
    public static func batches(in bytes: [UInt8], allowPartialTail: Bool = false) throws(RecordBatchError) -> [RecordBatch] {
        var result: [RecordBatch] = []
        var position = 0
        while position < bytes.count {
            do {
                let batch = try RecordBatch(bytes: bytes, start: position)
                result.append(batch)
                position += batch.totalSize
            } catch {
                if allowPartialTail, case .truncated = error { break }
                throw error
            }
        }
        return result
    }
}
