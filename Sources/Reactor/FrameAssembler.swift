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
    /// Set when a frame's memory could not be reserved from the pool: the connection reads
    /// nothing more until `retryReservation` succeeds.
    var isAwaitingMemory: Bool { get }
    mutating func retryReservation() -> Bool
    /// Gives back the memory of a frame being read (the connection closes).
    mutating func abandon()
    /// A lower size limit for the frames that follow (nil: the framing's own), as the
    /// connection's handler asks (a SASL listener before authentication).
    mutating func limitFrames(to bytes: Int?)
}

extension Framing {
    public var isAwaitingMemory: Bool { false }
    public mutating func retryReservation() -> Bool { true }
    public mutating func abandon() {}
    public mutating func limitFrames(to bytes: Int?) {}
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
    /// A lower limit set by the connection's handler, for now (limitFrames).
    private var frameSizeLimit: Int?
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

    /// Where frames larger than `largeFrameThreshold` get their memory, when there is a pool:
    /// each such frame handed over holds `frame.count` bytes of it, which whoever takes the
    /// frame gives back.
    let memory: RequestMemoryPool?
    /// The size of the large frame whose reservation was refused; its first bytes wait in
    /// `pending`.
    private var awaitedFrameSize = 0
    /// Bytes reserved for the large frame being read.
    private var reservedForLargeFrame = 0

    public init(maximumFrameSize: Int, largeFrameThreshold: Int = 64 * 1024, memory: RequestMemoryPool? = nil) {
        self.maximumFrameSize = maximumFrameSize
        self.largeFrameThreshold = largeFrameThreshold
        self.memory = memory
    }

    public var isAwaitingMemory: Bool { awaitedFrameSize > 0 }

    private var effectiveMaximumFrameSize: Int { min(maximumFrameSize, frameSizeLimit ?? maximumFrameSize) }

    public mutating func limitFrames(to bytes: Int?) { frameSizeLimit = bytes }

    public mutating func retryReservation() -> Bool {
        guard awaitedFrameSize > 0 else { return true }
        guard memory?.tryReserve(awaitedFrameSize) ?? true else { return false }
        reservedForLargeFrame = awaitedFrameSize
        awaitedFrameSize = 0
        let waiting = pending
        pending = []
        waiting.withUnsafeBytes { startLargeFrame($0) }
        return true
    }

    public mutating func abandon() {
        memory?.release(reservedForLargeFrame)
        reservedForLargeFrame = 0
        awaitedFrameSize = 0
        largeFrame = []
        largeFrameRemaining = 0
        pending = []
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
                reservedForLargeFrame = 0  // now the frame's taker's to give back
            }
            if start == bytes.count { return }
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
        if pending.isEmpty {
            let consumed = try Self.cut(rest, maximumFrameSize: effectiveMaximumFrameSize) { frames.append(Array($0)) }
            if consumed < rest.count { carryOver(UnsafeRawBufferPointer(rebasing: rest[consumed...])) }
        } else {
            pending.append(contentsOf: rest)
            let consumed = try pending.withUnsafeBytes { raw in
                Result { () throws(FramingError) in
                    try Self.cut(raw, maximumFrameSize: effectiveMaximumFrameSize) { frames.append(Array($0)) }
                }
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
                guard memory?.tryReserve(size) ?? true else {
                    // Kept as they are (at most one read) until the pool has room.
                    awaitedFrameSize = size
                    pending = Array(bytes)
                    return
                }
                reservedForLargeFrame = memory == nil ? 0 : size
                startLargeFrame(bytes)
                return
            }
        }
        pending = Array(bytes)
    }

    /// `bytes` start a large frame (its size first): its own buffer. With a pool the size is
    /// accounted for, and the whole buffer is allocated at once (pages are only backed as
    /// bytes arrive, and growing by doubling would copy and overshoot); without, a length
    /// field is not trusted past 1 MiB and the buffer grows with the bytes.
    private mutating func startLargeFrame(_ bytes: UnsafeRawBufferPointer) {
        let size = Int(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))
        largeFrame.reserveCapacity(memory == nil ? min(size, 1 << 20) : size)
        largeFrame.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[4...]))
        largeFrameRemaining = size - (bytes.count - 4)
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
