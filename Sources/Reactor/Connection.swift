// One client connection on its reactor: cuts length-prefixed frames from what it reads,
// keeps responses in request order, and applies backpressure. Touched only by its loop.

import SystemCalls

final class Connection {
    let id: ConnectionID
    let peer: SocketAddress?
    let handler: any ConnectionHandler

    /// Bytes of an incomplete frame carried over between reads; empty (no allocation) when
    /// the last read ended on a frame boundary, which is the usual case.
    var pending: [UInt8] = []

    /// A frame larger than one read, being read: its body so far (no size prefix) and the
    /// bytes still to come. Appended to as reads arrive, it is handed over as it is, without
    /// the copy out of `pending` that small frames get.
    var largeFrame: [UInt8] = []
    var largeFrameRemaining = 0

    /// Whole frames read while reading was paused, handed over when it resumes.
    var parkedFrames: [[UInt8]] = []
    var parkedHead = 0

    /// Sequence numbers: frames are numbered as they arrive; responses leave by number.
    var nextSequence: UInt64 = 0
    var nextToSend: UInt64 = 0
    /// Completions that arrived before an earlier request's.
    var outOfOrder: [UInt64: Completion] = [:]

    var outbound = OutboundQueue()
    var writeInterest = false
    var readingPaused = false
    /// The socket may hold unread bytes (an edge-triggered read stopped before EAGAIN).
    var mayHaveUnreadData = false
    /// Set while frames from one read are being handled, so their responses go out in one
    /// flush instead of one write each.
    var handlingReadBatch = false
    var closeAfterFlush = false
    /// Set while `resumeReading` runs: a resume asked for meanwhile (its own flush drained
    /// the output again) is taken by its loop instead of recursing.
    var resuming = false
    var resumeRequested = false
    /// The peer shut down its side (EPOLLRDHUP): read to the end of the stream, then close.
    var peerClosed = false
    var draining = false
    var isClosed = false
    var lastActivity: UInt64

    init(id: ConnectionID, peer: SocketAddress?, handler: any ConnectionHandler, now: UInt64) {
        self.id = id
        self.peer = peer
        self.handler = handler
        self.lastActivity = now
    }

    var inFlight: UInt64 { nextSequence - nextToSend }
    var isIdleCandidate: Bool { inFlight == 0 && outbound.isEmpty }

    /// Kafka-style framing: a big-endian int32 size, then that many bytes. Calls `deliver`
    /// for each whole frame in `bytes[range]` and returns where the unconsumed bytes start,
    /// or nil when a size is negative or over `maximumFrameSize` (the caller closes the
    /// connection before anything is allocated for it).
    static func cutFrames(_ bytes: UnsafeRawBufferPointer, maximumFrameSize: Int,
                          deliver: (UnsafeRawBufferPointer) -> Void) -> Int? {
        var position = 0
        while bytes.count - position >= 4 {
            let size = Int(Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int32.self)))
            if size < 0 || size > maximumFrameSize { return nil }
            if bytes.count - position - 4 < size { break }
            deliver(UnsafeRawBufferPointer(rebasing: bytes[(position + 4)..<(position + 4 + size)]))
            position += 4 + size
        }
        return position
    }
}
