// One client connection on its reactor: its transport, its framing, the order its responses
// leave in, and its state. Touched only by its loop.

import SystemCalls

final class Connection {
    let id: ConnectionID
    let peer: SocketAddress?
    let handler: any ConnectionHandler
    let transport: any Transport
    var framing: any Framing

    var state = ConnectionState.open
    var responses = ResponseSequencer<Completion>()
    var outbound = OutboundQueue()
    /// Measured responses queued and not yet written whole: where each ends in the
    /// outbound stream (OutboundQueue.appendedBytes), its tag, and when it was given.
    var measuredResponses: [(end: Int, tag: UInt16, completedAt: UInt64)] = []
    var measuredHead = 0

    /// Whole frames read while reading was paused, handed over when it resumes.
    var parkedFrames: [[UInt8]] = []
    var parkedHead = 0

    /// EPOLLOUT is armed (only while a write would block).
    var writeInterest = false
    /// The socket may hold unread bytes (an edge-triggered read stopped before EAGAIN).
    var mayHaveUnreadData = false
    /// The peer shut down its side (EPOLLRDHUP): read to the end of the stream, then close.
    var peerClosed = false
    /// Set while frames from one read are being handled, so their responses go out in one
    /// flush instead of one write each.
    var handlingReadBatch = false
    /// `resumeReading` is running, and whether a resume was asked for meanwhile (its own
    /// flush drained the output again): taken by its loop instead of recursing.
    var resume = ResumeState.idle
    var lastActivity: UInt64
    /// Requests handed over in this turn (ReactorConfiguration.maximumRequestsPerTurn), and
    /// whether the connection waits for another turn.
    var requestsThisTurn = 0
    var hasTurnQueued = false
    /// Pool memory held by requests handed over and not yet answered, by sequence.
    var reservations: [UInt64: Int] = [:]
    var reservedBytes = 0
    /// Muted until the request memory pool has room for the frame being read.
    var waitingForMemory = false
    /// The handler has been told the transport is ready (a TLS handshake done).
    var announcedTransport = false
    /// Reading waits until this monotonic time (ns) for a throttled client; 0: not muted.
    var mutedUntil: UInt64 = 0

    enum ResumeState {
        case idle
        case running
        case runAgain
    }

    init(
        id: ConnectionID, peer: SocketAddress?, handler: any ConnectionHandler, transport: any Transport,
        framing: any Framing, now: UInt64
    ) {
        self.id = id
        self.peer = peer
        self.handler = handler
        self.transport = transport
        self.framing = framing
        self.lastActivity = now
    }

    var isClosed: Bool { state == .closed }
    var hasParkedFrames: Bool { parkedHead < parkedFrames.count }
    var inFlight: UInt64 { responses.inFlight }
    var isIdleCandidate: Bool { inFlight == 0 && outbound.isEmpty }
}
