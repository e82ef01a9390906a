// One record of a v2 batch, with its offset and timestamp resolved against the batch:
// zig-zag varint framed, key and value nullable, headers with string keys.

import KafkaWire

public struct RecordHeader: Equatable, Sendable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

public struct Record: Equatable, Sendable {
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// Unused by Kafka so far, kept for byte-exact rebuilds.
    public var attributes: Int8

    public init(
        offset: Int64 = 0, timestamp: Int64 = 0, key: [UInt8]? = nil, value: [UInt8]?,
        headers: [RecordHeader] = [], attributes: Int8 = 0
    ) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
        self.attributes = attributes
    }

    /// Reads one length-framed record; offsets and timestamps are deltas from the batch's.
    init(from reader: inout ByteReader, batch: RecordBatch) throws(DecodeError) {
        let lengthOffset = reader.position
        let length = Int(try reader.readVarint())
        guard length >= 0, length <= reader.remaining else {
            throw .invalidLength(offset: lengthOffset, length: length)
        }
        let end = reader.position + length
        var body = ByteReader(reader.bytes, range: reader.position..<end)
        attributes = try body.readInt8()
        let timestampDelta = try body.readVarlong()
        let offsetDelta = try body.readVarint()
        key = try Record.readVarintBytes(&body)
        value = try Record.readVarintBytes(&body)
        let headerCountOffset = body.position
        let headerCount = Int(try body.readVarint())
        guard headerCount >= 0, headerCount <= body.remaining else {
            throw .invalidLength(offset: headerCountOffset, length: headerCount)
        }
        var headers: [RecordHeader] = []
        // Each header takes at least two bytes: never reserve more than the bytes can hold.
        headers.reserveCapacity(min(headerCount, body.remaining / 2))
        for _ in 0..<headerCount {
            let keyOffset = body.position
            guard let keyBytes = try Record.readVarintBytes(&body) else {
                throw .unexpectedNull(offset: keyOffset, field: "header key")
            }
            headers.append(
                RecordHeader(
                    key: String(decoding: keyBytes, as: UTF8.self),
                    value: try Record.readVarintBytes(&body)))
        }
        self.headers = headers
        guard body.isAtEnd else {
            throw .invalidValue(offset: body.position, reason: "record has \(body.remaining) bytes past its fields")
        }
        try reader.skip(length)
        offset = batch.baseOffset + Int64(offsetDelta)
        // LogAppendTime batches carry the broker's time for every record.
        timestamp = batch.timestampType == .logAppendTime ? batch.maxTimestamp : batch.baseTimestamp &+ timestampDelta
    }

    static func readVarintBytes(_ reader: inout ByteReader) throws(DecodeError) -> [UInt8]? {
        let lengthOffset = reader.position
        let length = Int(try reader.readVarint())
        if length == -1 { return nil }
        guard length >= 0 else { throw .invalidLength(offset: lengthOffset, length: length) }
        return try reader.readBytes(count: length)
    }

    static func writeVarintBytes(_ bytes: [UInt8]?, into writer: inout ByteWriter) {
        guard let bytes else {
            writer.writeVarint(-1)
            return
        }
        writer.writeVarint(Int32(bytes.count))
        writer.writeBytes(bytes)
    }

    /// Appends this record's framed bytes, with deltas from the batch's base values.
    func encode(into writer: inout ByteWriter, offsetDelta: Int32, timestampDelta: Int64) {
        var body = ByteWriter(capacity: 32 + (key?.count ?? 0) + (value?.count ?? 0))
        body.writeInt8(attributes)
        body.writeVarlong(timestampDelta)
        body.writeVarint(offsetDelta)
        Record.writeVarintBytes(key, into: &body)
        Record.writeVarintBytes(value, into: &body)
        body.writeVarint(Int32(headers.count))
        for header in headers {
            Record.writeVarintBytes(Array(header.key.utf8), into: &body)
            Record.writeVarintBytes(header.value, into: &body)
        }
        writer.writeVarint(Int32(body.count))
        writer.writeBytes(body.bytes)
    }
}
