// The fixed 61-byte header of a RecordBatch v2, parsed from just those bytes: what the log
// reads to walk a segment batch by batch without loading the records.

import KafkaWire

public struct RecordBatchHeader: Sendable, Equatable {
    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    /// Parses the first 61 bytes of `bytes[start...]`; nil when fewer are present.
    public init?(_ bytes: [UInt8], at start: Int = 0) {
        guard bytes.count - start >= RecordBatchLayout.headerSize else { return nil }
        var reader = ByteReader(bytes, range: start..<start + RecordBatchLayout.headerSize)
        do {
            baseOffset = try reader.readInt64()
            batchLength = try reader.readInt32()
            partitionLeaderEpoch = try reader.readInt32()
            magic = try reader.readInt8()
            crc = try reader.readUInt32()
            attributes = try reader.readInt16()
            lastOffsetDelta = try reader.readInt32()
            baseTimestamp = try reader.readInt64()
            maxTimestamp = try reader.readInt64()
            producerId = try reader.readInt64()
            producerEpoch = try reader.readInt16()
            baseSequence = try reader.readInt32()
            recordCount = try reader.readInt32()
        } catch {
            return nil
        }
    }

    /// Bytes of the whole batch, baseOffset included.
    public var totalSize: Int { Int(batchLength) + RecordBatchLayout.logOverhead }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    public var timestampType: TimestampType { attributes & 0x08 != 0 ? .logAppendTime : .createTime }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var isControl: Bool { attributes & 0x20 != 0 }
    public var hasProducerId: Bool { producerId >= 0 }
    /// The smallest a v2 batch can claim to be.
    public var hasPlausibleLength: Bool { batchLength >= Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead) }
}
