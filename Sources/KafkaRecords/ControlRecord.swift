// Transaction markers: the single record of a control batch, whose key says COMMIT or
// ABORT and whose value carries the coordinator epoch (Kafka's EndTransactionMarker).

import KafkaWire

public enum ControlRecordType: Int16, Sendable {
    case abort = 0
    case commit = 1
}

public struct TransactionMarker: Equatable, Sendable {
    public var type: ControlRecordType
    public var coordinatorEpoch: Int32

    public init(type: ControlRecordType, coordinatorEpoch: Int32) {
        self.type = type
        self.coordinatorEpoch = coordinatorEpoch
    }

    /// Key: int16 version (0), int16 type.
    public var key: [UInt8] {
        var writer = ByteWriter(capacity: 4)
        writer.writeInt16(0)
        writer.writeInt16(type.rawValue)
        return writer.takeBytes()
    }

    /// Value: int16 version (0), int32 coordinator epoch.
    public var value: [UInt8] {
        var writer = ByteWriter(capacity: 6)
        writer.writeInt16(0)
        writer.writeInt32(coordinatorEpoch)
        return writer.takeBytes()
    }

    /// Reads a marker from a control record; unknown control types are an error.
    public init(record: Record) throws(DecodeError) {
        guard let key = record.key else { throw .unexpectedNull(offset: 0, field: "control record key") }
        var keyReader = ByteReader(key)
        _ = try keyReader.readInt16()
        let rawType = try keyReader.readInt16()
        guard let type = ControlRecordType(rawValue: rawType) else {
            throw .invalidValue(offset: 2, reason: "unknown control record type \(rawType)")
        }
        var valueReader = ByteReader(record.value ?? [])
        _ = try valueReader.readInt16()
        self.init(type: type, coordinatorEpoch: try valueReader.readInt32())
    }

    /// The marker of a control batch: its first (and only) record, decoded alone.
    public init(batch: RecordBatch) throws(RecordBatchError) {
        var first: Record?
        try batch.forEachRecord {
            first = $0
            return false
        }
        guard let first else { throw .invalidBatchLength(batch.batchLength) }
        do {
            try self.init(record: first)
        } catch {
            throw .invalidRecord(error.description)
        }
    }

    /// A whole control batch for this marker, as a transaction coordinator writes it.
    public func batch(
        producerId: Int64, producerEpoch: Int16, baseOffset: Int64 = 0,
        timestamp: Int64, partitionLeaderEpoch: Int32 = 0
    ) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.baseOffset = baseOffset
        builder.partitionLeaderEpoch = partitionLeaderEpoch
        builder.isTransactional = true
        builder.isControl = true
        builder.producerId = producerId
        builder.producerEpoch = producerEpoch
        let record = Record(offset: baseOffset, timestamp: timestamp, key: key, value: value)
        // Uncompressed: cannot fail.
        return (try? builder.build([record])) ?? []
    }
}
