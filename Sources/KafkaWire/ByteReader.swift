// A bounds-checked cursor over received bytes: every primitive of the Kafka protocol,
// big-endian, each read throwing DecodeError instead of trapping. Nothing here allocates
// more than the bytes actually present, whatever a length field claims.

public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var position: Int
    public let endIndex: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
        self.endIndex = bytes.count
    }

    /// A reader over `bytes[range]`; positions stay those of the whole buffer.
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        self.bytes = bytes
        self.position = range.lowerBound
        self.endIndex = range.upperBound
    }

    public var remaining: Int { endIndex - position }
    public var isAtEnd: Bool { position >= endIndex }

    @inline(__always)
    private func require(_ count: Int) throws(DecodeError) {
        if count > endIndex - position {
            throw .truncated(offset: position, needed: count, remaining: endIndex - position)
        }
    }

    @inline(__always)
    private mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        let value = bytes.withUnsafeBytes { raw in
            T(bigEndian: raw.loadUnaligned(fromByteOffset: position, as: T.self))
        }
        position += size
        return value
    }

    public mutating func readInt8() throws(DecodeError) -> Int8 { try readBigEndian(Int8.self) }
    public mutating func readUInt8() throws(DecodeError) -> UInt8 { try readBigEndian(UInt8.self) }
    public mutating func readInt16() throws(DecodeError) -> Int16 { try readBigEndian(Int16.self) }
    public mutating func readUInt16() throws(DecodeError) -> UInt16 { try readBigEndian(UInt16.self) }
    public mutating func readInt32() throws(DecodeError) -> Int32 { try readBigEndian(Int32.self) }
    public mutating func readUInt32() throws(DecodeError) -> UInt32 { try readBigEndian(UInt32.self) }
    public mutating func readInt64() throws(DecodeError) -> Int64 { try readBigEndian(Int64.self) }

    public mutating func readFloat64() throws(DecodeError) -> Double {
        Double(bitPattern: try readBigEndian(UInt64.self))
    }

    /// Kafka's boolean: any non-zero byte is true.
    public mutating func readBool() throws(DecodeError) -> Bool { try readInt8() != 0 }

    public mutating func readUuid() throws(DecodeError) -> Uuid {
        let high = try readBigEndian(UInt64.self)
        let low = try readBigEndian(UInt64.self)
        return Uuid(mostSignificantBits: high, leastSignificantBits: low)
    }

    // MARK: Varints (protobuf-style base-128, zig-zag for the signed forms)

    /// An unsigned varint of at most 5 bytes (32 bits), as compact lengths and tags use.
    public mutating func readUnsignedVarint() throws(DecodeError) -> UInt32 {
        let start = position
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            try require(1)
            let byte = bytes[position]
            position += 1
            if shift == 28 && byte > 0x0F {
                throw .varintTooLong(offset: start)
            }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// An unsigned varint of at most 10 bytes (64 bits).
    public mutating func readUnsignedVarlong() throws(DecodeError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            try require(1)
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 0x01 {
                throw .varintTooLong(offset: start)
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A zig-zag signed 32-bit varint (record fields).
    public mutating func readVarint() throws(DecodeError) -> Int32 {
        let raw = try readUnsignedVarint()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zig-zag signed 64-bit varint (record timestamp deltas).
    public mutating func readVarlong() throws(DecodeError) -> Int64 {
        let raw = try readUnsignedVarlong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    // MARK: Raw byte runs

    /// The next `count` bytes, copied out. `count` is checked against what is present
    /// before anything is allocated.
    public mutating func readBytes(count: Int) throws(DecodeError) -> [UInt8] {
        guard count >= 0 else { throw .invalidLength(offset: position, length: count) }
        try require(count)
        let slice = Array(bytes[position..<position + count])
        position += count
        return slice
    }

    /// The range of the next `count` bytes, without copying them.
    public mutating func readRange(count: Int) throws(DecodeError) -> Range<Int> {
        guard count >= 0 else { throw .invalidLength(offset: position, length: count) }
        try require(count)
        defer { position += count }
        return position..<position + count
    }

    public mutating func skip(_ count: Int) throws(DecodeError) {
        _ = try readRange(count: count)
    }

    // MARK: Length prefixes

    /// A length prefix: int16/int32 in classic versions, unsigned varint N+1 in compact
    /// ones. Returns nil for null (-1, or 0 when compact). A negative length other than
    /// -1 or one longer than the rest of the buffer is an error.
    @inline(__always)
    private mutating func readLength(compact: Bool, wide: Bool) throws(DecodeError) -> Int? {
        let start = position
        let length: Int
        if compact {
            let raw = try readUnsignedVarint()
            if raw == 0 { return nil }
            length = Int(raw) - 1
        } else if wide {
            length = Int(try readInt32())
        } else {
            length = Int(try readInt16())
        }
        if length == -1 && !compact { return nil }
        if length < 0 || length > endIndex - position {
            throw .invalidLength(offset: start, length: length)
        }
        return length
    }

    /// Kafka's strings hold at most 32,767 bytes in every version: its generated readers
    /// refuse a longer compact string ("had invalid length"), so a request carrying one is
    /// malformed, and ids stay within the int16 lengths of the internal topics' records.
    public static let maximumStringLength = Int(Int16.max)

    public mutating func readNullableString(compact: Bool) throws(DecodeError) -> String? {
        let start = position
        guard let length = try readLength(compact: compact, wide: false) else { return nil }
        guard length <= Self.maximumStringLength else { throw .invalidLength(offset: start, length: length) }
        defer { position += length }
        return String(decoding: bytes[position..<position + length], as: UTF8.self)
    }

    public mutating func readString(compact: Bool, field: String = "string") throws(DecodeError) -> String {
        let start = position
        guard let value = try readNullableString(compact: compact) else {
            throw .unexpectedNull(offset: start, field: field)
        }
        return value
    }

    public mutating func readNullableBytes(compact: Bool) throws(DecodeError) -> [UInt8]? {
        guard let length = try readLength(compact: compact, wide: true) else { return nil }
        return try readBytes(count: length)
    }

    public mutating func readBytes(compact: Bool, field: String = "bytes") throws(DecodeError) -> [UInt8] {
        let start = position
        guard let value = try readNullableBytes(compact: compact) else {
            throw .unexpectedNull(offset: start, field: field)
        }
        return value
    }

    /// An array's element count; nil for a null array. The count may not exceed the bytes
    /// left (every element takes at least one byte on the wire... or none, for an element
    /// whose fields are all absent in this version, so callers reserve at most `remaining`).
    public mutating func readArrayCount(compact: Bool) throws(DecodeError) -> Int? {
        try readLength(compact: compact, wide: true)
    }

    /// A count for `reserveCapacity`: never more than the bytes that could back it.
    public func safeCapacity(_ count: Int) -> Int { Swift.min(count, remaining) }

    // MARK: Tagged fields

    /// Reads a tagged-field section's framing: each field's tag and where its bytes are.
    /// Tags must ascend and every size must fit in the buffer.
    public mutating func readTaggedFieldSpans() throws(DecodeError) -> [TaggedFieldSpan] {
        let countOffset = position
        let count = try readUnsignedVarint()
        if count == 0 { return [] }
        guard Int(count) <= remaining else { throw .invalidLength(offset: countOffset, length: Int(count)) }
        var spans: [TaggedFieldSpan] = []
        spans.reserveCapacity(Int(count))
        var previousTag: Int64 = -1
        for _ in 0..<count {
            let tagOffset = position
            let tag = try readUnsignedVarint()
            guard Int64(tag) > previousTag else {
                throw .invalidValue(offset: tagOffset, reason: "tagged field \(tag) out of order")
            }
            previousTag = Int64(tag)
            let sizeOffset = position
            let size = Int(try readUnsignedVarint())
            guard size <= remaining else { throw .invalidLength(offset: sizeOffset, length: size) }
            spans.append(TaggedFieldSpan(tag: tag, range: position..<position + size))
            position += size
        }
        return spans
    }

    /// A reader over one tagged field's bytes.
    public func reader(for span: TaggedFieldSpan) -> ByteReader {
        ByteReader(bytes, range: span.range)
    }

    /// An unknown tagged field, kept whole.
    public func rawTaggedField(_ span: TaggedFieldSpan) -> RawTaggedField {
        RawTaggedField(tag: span.tag, data: Array(bytes[span.range]))
    }

    /// Fails when a known tagged field held more bytes than its value used.
    public func expectEnd(ofTag tag: UInt32) throws(DecodeError) {
        if position != endIndex {
            throw .invalidValue(offset: position, reason: "tagged field \(tag) has \(remaining) bytes left over")
        }
    }
}

/// Where one tagged field sits in the buffer.
public struct TaggedFieldSpan: Sendable, Equatable {
    public var tag: UInt32
    public var range: Range<Int>
}
