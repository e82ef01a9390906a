// Builds RecordBatch v2 bytes from records: what tests, the compactor and the broker's own
// internal-topic writers use. Producers' batches are never rebuilt on the produce path.

import KafkaWire

public struct RecordBatchBuilder: Sendable {
    public var baseOffset: Int64 = 0
    public var partitionLeaderEpoch: Int32 = -1
    public var compression: CompressionCodec = .none
    public var timestampType: TimestampType = .createTime
    public var isTransactional = false
    public var isControl = false
    public var producerId: Int64 = -1
    public var producerEpoch: Int16 = -1
    public var baseSequence: Int32 = -1
    /// Set when compaction keeps a batch whose last records were removed: the offset span
    /// stays that of the original batch.
    public var lastOffsetDeltaOverride: Int32?
    /// Delete horizon for compacted tombstones (attributes bit 6, baseTimestamp holds it).
    public var deleteHorizon: Int64?

    public init() {}

    /// Records keep their own offsets and timestamps; offsets become deltas from
    /// `baseOffset` (the first record's offset when records are given with offsets).
    public func build(_ records: [Record]) throws(CompressionError) -> [UInt8] {
        // As Kafka does: the first record's timestamp is the base (the delete horizon, when
        // set, takes its place) and every record stores its difference from it.
        let baseTimestamp = deleteHorizon ?? records.first?.timestamp ?? -1
        let maxTimestamp = records.map(\.timestamp).max() ?? -1
        var body = ByteWriter(capacity: records.count * 32)
        for record in records {
            record.encode(
                into: &body,
                offsetDelta: Int32(truncatingIfNeeded: record.offset - baseOffset),
                timestampDelta: record.timestamp &- baseTimestamp)
        }
        let payload = try Compression.compress(body.bytes, codec: compression)
        let lastOffsetDelta =
            lastOffsetDeltaOverride
            ?? Int32(truncatingIfNeeded: (records.last?.offset ?? baseOffset) - baseOffset)

        var attributes = compression.rawValue
        if timestampType == .logAppendTime { attributes |= 0x08 }
        if isTransactional { attributes |= 0x10 }
        if isControl { attributes |= 0x20 }
        if deleteHorizon != nil { attributes |= 0x40 }

        var writer = ByteWriter(capacity: RecordBatchLayout.headerSize + payload.count)
        writer.writeInt64(baseOffset)
        writer.writeInt32(Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead + payload.count))
        writer.writeInt32(partitionLeaderEpoch)
        writer.writeInt8(2)
        let crcPosition = writer.reserveInt32()
        writer.writeInt16(attributes)
        writer.writeInt32(lastOffsetDelta)
        writer.writeInt64(baseTimestamp)
        writer.writeInt64(maxTimestamp)
        writer.writeInt64(producerId)
        writer.writeInt16(producerEpoch)
        writer.writeInt32(baseSequence)
        writer.writeInt32(Int32(records.count))
        writer.writeBytes(payload)
        var bytes = writer.takeBytes()
        let crc = CRC32C.checksum(bytes, range: RecordBatchLayout.attributes..<bytes.count)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: crc.bigEndian, toByteOffset: crcPosition, as: UInt32.self) }
        return bytes
    }
}
