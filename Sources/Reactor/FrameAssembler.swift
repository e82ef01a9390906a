// Kafka's framing, sans IO: bytes in as they are read, whole frames out. A frame is a
// big-endian int32 size and that many bytes; the size is checked before anything is kept.

/// Cuts a connection's byte stream into frames, and frames its responses. The reactor asks
/// each connection's handler factory for one, so each kind of listener brings its own.
public protocol Framing {
    /// Takes the bytes of one read and appends the frames they complete to `frames`, in order;
    /// bytes of an incomplete frame are kept for the next call. When it throws, `frames` holds
    /// the frames that came before the bad size (Kafka handles those, then closes).
    mutating func append(_ bytes: UnsafeRawBufferPointer, to frames: inout [[UInt8]]) throws(FramingError)
    /// What goes before a response of `size` bytes.
    func responsePrefix(size: Int) throws(FramingError) -> [UInt8]
}

public enum FramingError: Error, Equatable, Sendable {
    /// A size below zero or above the limit: the connection is closed, nothing allocated.
    case invalidFrameSize(Int)
    /// A response larger than the framing can state.
    case responseTooLarge(Int)
}

public struct FrameAssembler: Framing {
    /// Kafka's socket.request.max.bytes.
    public let maximumFrameSize: Int
    /// A frame larger than this (the reactor's read size) gets a buffer of its own, grown as
    /// its bytes arrive, instead of being gathered in `pending`.
    public let largeFrameThreshold: Int

    /// Bytes of an incomplete frame carried over between reads; empty (no allocation) when
    /// the last read ended on a frame boundary, which is the usual case.
    private var pending: [UInt8] = []
    /// A large frame being read: its body so far (no size prefix) and the bytes still to
    /// come. It is handed over as it is, without the copy out of `pending` that small
    /// frames get.
    private var largeFrame: [UInt8] = []
    private var largeFrameRemaining = 0

    public init(maximumFrameSize: Int, largeFrameThreshold: Int = 64 * 1024) {
        self.maximumFrameSize = maximumFrameSize
        self.largeFrameThreshold = largeFrameThreshold
    }

    /// Bytes held for frames not yet complete.
    public var bufferedBytes: Int { pending.count + largeFrame.count }

    public mutating func append(_ bytes: UnsafeRawBufferPointer, to frames: inout [[UInt8]]) throws(FramingError) {
        var start = 0
        if largeFrameRemaining > 0 {
            let take = min(bytes.count, largeFrameRemaining)
            largeFrame.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            largeFrameRemaining -= take
            start = take
            if largeFrameRemaining == 0 {
                frames.append(largeFrame)
                largeFrame = []
            }
            if start == bytes.count { return }
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
        if pending.isEmpty {
            let consumed = try Self.cut(rest, maximumFrameSize: maximumFrameSize) { frames.append(Array($0)) }
            if consumed < rest.count { carryOver(UnsafeRawBufferPointer(rebasing: rest[consumed...])) }
        } else {
            pending.append(contentsOf: rest)
            let consumed = try pending.withUnsafeBytes { raw in
                Result { () throws(FramingError) in try Self.cut(raw, maximumFrameSize: maximumFrameSize) { frames.append(Array($0)) } }
            }.get()
            if consumed == pending.count {
                pending = []
            } else if consumed > 0 || pending.count >= 4 {
                // What is left starts a frame: small ones stay here, a large one moves to its
                // own buffer.
                let left = Array(pending[consumed...])
                pending = []
                left.withUnsafeBytes { carryOver($0) }
            }
        }
    }

    public func responsePrefix(size: Int) throws(FramingError) -> [UInt8] {
        // No Kafka frame can say more: a handler bug, not the client's fault.
        guard size <= Int(Int32.max) else { throw .responseTooLarge(size) }
        return withUnsafeBytes(of: Int32(size).bigEndian) { Array($0) }
    }

    /// Keeps the start of an incomplete frame for the next reads. A frame larger than a read
    /// gets a buffer of its own, reserved up to 1 MiB (never the whole size a length field
    /// claims) and grown as its bytes arrive.
    private mutating func carryOver(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count >= 4 {
            let size = Int(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))
            if size > largeFrameThreshold {  // `cut` has already checked it against the limit
                largeFrame.reserveCapacity(min(size, 1 << 20))
                largeFrame.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[4...]))
                largeFrameRemaining = size - (bytes.count - 4)
                return
            }
        }
        pending = Array(bytes)
    }

    /// Calls `deliver` for each whole frame in `bytes` and returns where the unconsumed
    /// bytes start. A size that is negative or over the limit throws before anything is
    /// allocated for it.
    private static func cut(
        _ bytes: UnsafeRawBufferPointer, maximumFrameSize: Int,
        deliver: (UnsafeRawBufferPointer) -> Void
    ) throws(FramingError) -> Int {
        var position = 0
        while bytes.count - position >= 4 {
            let size = Int(Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int32.self)))
            if size < 0 || size > maximumFrameSize { throw .invalidFrameSize(size) }
            if bytes.count - position - 4 < size { break }
            deliver(UnsafeRawBufferPointer(rebasing: bytes[(position + 4)..<(position + 4 + size)]))
            position += 4 + size
        }
        return position
    }
}
