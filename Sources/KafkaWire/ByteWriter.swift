// The encoder's growable output buffer: every Kafka primitive, big-endian, appended in
// place. Length prefixes that are only known later are reserved and patched.

public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]
    /// Gaps left for external records bytes, in output order (see RecordsPayload).
    public internal(set) var splices: [ExternalSplice] = []

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    @inline(__always)
    private mutating func writeBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func writeInt8(_ value: Int8) { bytes.append(UInt8(bitPattern: value)) }
    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }
    public mutating func writeInt16(_ value: Int16) { writeBigEndian(value) }
    public mutating func writeUInt16(_ value: UInt16) { writeBigEndian(value) }
    public mutating func writeInt32(_ value: Int32) { writeBigEndian(value) }
    public mutating func writeUInt32(_ value: UInt32) { writeBigEndian(value) }
    public mutating func writeInt64(_ value: Int64) { writeBigEndian(value) }
    public mutating func writeFloat64(_ value: Double) { writeBigEndian(value.bitPattern) }
    public mutating func writeBool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func writeUuid(_ value: Uuid) {
        writeBigEndian(value.mostSignificantBits)
        writeBigEndian(value.leastSignificantBits)
    }

    public mutating func writeUnsignedVarint(_ value: UInt32) {
        var remainder = value
        while remainder >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remainder) | 0x80)
            remainder >>= 7
        }
        bytes.append(UInt8(remainder))
    }

    public mutating func writeUnsignedVarlong(_ value: UInt64) {
        var remainder = value
        while remainder >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remainder) | 0x80)
            remainder >>= 7
        }
        bytes.append(UInt8(remainder))
    }

    public mutating func writeVarint(_ value: Int32) {
        writeUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    public mutating func writeVarlong(_ value: Int64) {
        writeUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func writeBytes<C: Collection>(_ data: C) where C.Element == UInt8 {
        bytes.append(contentsOf: data)
    }

    // MARK: Length-prefixed values

    /// An array or bytes length: int32 classic, unsigned varint N+1 compact; nil is null.
    public mutating func writeLength(_ length: Int?, compact: Bool) {
        if compact {
            writeUnsignedVarint(length.map { UInt32($0 + 1) } ?? 0)
        } else {
            writeInt32(length.map { Int32($0) } ?? -1)
        }
    }

    public mutating func writeNullableString(_ value: String?, compact: Bool) throws(EncodeError) {
        guard let value else {
            if compact { writeUnsignedVarint(0) } else { writeInt16(-1) }
            return
        }
        let utf8 = value.utf8
        if compact {
            writeUnsignedVarint(UInt32(utf8.count + 1))
        } else {
            guard utf8.count <= Int(Int16.max) else { throw .tooLong(field: "string", count: utf8.count) }
            writeInt16(Int16(utf8.count))
        }
        bytes.append(contentsOf: utf8)
    }

    public mutating func writeString(_ value: String, compact: Bool) throws(EncodeError) {
        try writeNullableString(value, compact: compact)
    }

    public mutating func writeNullableBytes(_ value: [UInt8]?, compact: Bool) {
        writeLength(value?.count, compact: compact)
        if let value { bytes.append(contentsOf: value) }
    }

    public mutating func writeArrayCount(_ count: Int?, compact: Bool) {
        writeLength(count, compact: compact)
    }

    // MARK: Patching

    /// Reserves four bytes for an int32 written later with `patchInt32`.
    public mutating func reserveInt32() -> Int {
        let position = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0])
        return position
    }

    public mutating func patchInt32(_ value: Int32, at position: Int) {
        let bigEndian = UInt32(bitPattern: value).bigEndian
        withUnsafeBytes(of: bigEndian) { raw in
            for index in 0..<4 { bytes[position + index] = raw[index] }
        }
    }

    /// Writes a tagged-field section: the known fields (already encoded as (tag, bytes)),
    /// merged with the unknown ones kept from decoding, in ascending tag order.
    public mutating func writeTaggedFields(_ known: [RawTaggedField], unknown: [RawTaggedField]) {
        var fields = known
        fields.append(contentsOf: unknown)
        // Kafka requires ascending tags; schemas do not always declare them in tag order.
        if fields.count > 1 { fields.sort { $0.tag < $1.tag } }
        writeUnsignedVarint(UInt32(fields.count))
        for field in fields {
            writeUnsignedVarint(field.tag)
            writeUnsignedVarint(UInt32(field.data.count))
            bytes.append(contentsOf: field.data)
        }
    }

    /// Takes the bytes out, leaving the writer empty.
    public mutating func takeBytes() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}
