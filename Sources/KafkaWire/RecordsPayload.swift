// The value of a `records` field: bytes in memory (what a decoder produces), or bytes that
// live elsewhere, such as a region of a log segment, which the encoder only sizes and marks
// so the sender can splice them in with sendfile (zero copy).

public enum RecordsPayload: Sendable, Equatable, ExpressibleByArrayLiteral {
    case bytes([UInt8])
    /// `length` bytes the caller will supply for `id` when it sends the encoded message.
    case external(length: Int, id: Int)

    public init(arrayLiteral elements: UInt8...) { self = .bytes(elements) }

    public var count: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .external(let length, _): return length
        }
    }

    /// The bytes, when they are in memory.
    public var bytes: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }
}

/// Where an encoded message leaves a gap for external bytes.
public struct ExternalSplice: Sendable, Equatable {
    /// Byte offset in the writer's output where the external bytes belong.
    public let offset: Int
    public let length: Int
    public let id: Int
}

extension ByteReader {
    public mutating func readNullableRecords(compact: Bool) throws(DecodeError) -> RecordsPayload? {
        try readNullableBytes(compact: compact).map(RecordsPayload.bytes)
    }

    public mutating func readRecords(compact: Bool, field: String = "records") throws(DecodeError) -> RecordsPayload {
        .bytes(try readBytes(compact: compact, field: field))
    }
}

extension ByteWriter {
    /// Writes the length prefix, then the bytes, or, for external bytes, only notes where
    /// they go (`splices`).
    public mutating func writeRecords(_ records: RecordsPayload?, compact: Bool) {
        guard let records else {
            writeLength(nil, compact: compact)
            return
        }
        writeLength(records.count, compact: compact)
        switch records {
        case .bytes(let bytes): writeBytes(bytes)
        case .external(let length, let id): splices.append(ExternalSplice(offset: count, length: length, id: id))
        }
    }
}
