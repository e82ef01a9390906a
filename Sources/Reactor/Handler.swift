// The contract between the reactor (frames and bytes) and what runs on it (the Kafka
// layer): a handler per connection receives frames on the connection's reactor thread
// and answers each through its Responder, from any thread, in any order.

import SystemCalls

/// One piece of a response: bytes in memory, or a region of a file sent with sendfile(2).
public enum ResponsePart: Sendable {
    case bytes([UInt8])
    case file(FileRegion)

    public var count: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .file(let region): return region.length
        }
    }
}

/// A range of an open file. `owner` keeps the file open until the region is sent, so a
/// segment deleted by retention stays readable for a response already queued.
public struct FileRegion: Sendable {
    public let descriptor: Int32
    public let offset: Int64
    public let length: Int
    public let owner: (any AnyObject & Sendable)?

    public init(descriptor: Int32, offset: Int64, length: Int, owner: (any AnyObject & Sendable)?) {
        self.descriptor = descriptor
        self.offset = offset
        self.length = length
        self.owner = owner
    }
}

/// Identifies a connection across fd reuse: a closed connection's fd may be reused by the
/// next accept, but never with the same generation.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let descriptor: Int32
    public let generation: UInt32

    var epollData: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor)) }

    init(descriptor: Int32, generation: UInt32) {
        self.descriptor = descriptor
        self.generation = generation
    }

    init(epollData: UInt64) {
        descriptor = Int32(bitPattern: UInt32(truncatingIfNeeded: epollData))
        generation = UInt32(truncatingIfNeeded: epollData >> 32)
    }

    public var description: String { "fd \(descriptor)#\(generation)" }
}

public struct ConnectionInfo: Sendable {
    public let id: ConnectionID
    public let peer: SocketAddress?
    public let local: SocketAddress?
    public let eventLoop: EventLoop
}

/// Lives on its connection's reactor thread; created by the factory when the connection
/// arrives, told when it closes.
public protocol ConnectionHandler: AnyObject {
    /// A complete frame (its 4-byte size removed). Every frame must be answered through
    /// `responder` exactly once, now or later, from any thread.
    func received(frame: [UInt8], responder: Responder)
    func connectionClosed()
    /// Before the first frame: the transport is ready, with the client certificate's subject
    /// when a TLS handshake checked one; false refuses the client (the connection closes).
    func transportEstablished(peerSubject: String?) -> Bool
    /// Reading failed and the connection closes: a reset, or a TLS failure (EPROTO: not TLS,
    /// a failed handshake, a bad record).
    func transportFailed(_ error: SystemCallError)
    /// A frame the framing refuses (a size no request has): the connection closes next.
    func framingFailed(_ error: FramingError)
    /// A limit on the size of the next frames below the listener's (nil: none), read before
    /// each read: a SASL listener caps what an unauthenticated client may send.
    var frameSizeLimit: Int? { get }
    /// Asked once, when the connection arrives: true closes it at once (a client over its
    /// connection quota).
    var refusesConnection: Bool { get }
    /// The last byte of a response given with `Responder.respond(_:measuredAs:)` is written,
    /// `nanoseconds` after it was given.
    func responseWritten(tag: UInt16, nanoseconds: UInt64)
}

extension ConnectionHandler {
    public func transportEstablished(peerSubject: String?) -> Bool { true }
    public func transportFailed(_ error: SystemCallError) {}
    public func framingFailed(_ error: FramingError) {}
    public var frameSizeLimit: Int? { nil }
    public var refusesConnection: Bool { false }
    public func responseWritten(tag: UInt16, nanoseconds: UInt64) {}
}

public protocol ConnectionHandlerFactory: Sendable {
    /// Called on the connection's reactor thread.
    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler
    /// The TLS context of a TLS listener; nil for plain TCP.
    var tls: TLSContext? { get }
    /// How this listener's byte stream is cut into frames and its responses framed; frames
    /// larger than `largeFrameThreshold` take their memory from `memory` when there is one.
    func makeFraming(maximumFrameSize: Int, largeFrameThreshold: Int, memory: RequestMemoryPool?) -> any Framing
}

extension ConnectionHandlerFactory {
    public var tls: TLSContext? { nil }

    /// Kafka's: a big-endian int32 size before each request and response.
    public func makeFraming(maximumFrameSize: Int, largeFrameThreshold: Int, memory: RequestMemoryPool?) -> any Framing {
        FrameAssembler(maximumFrameSize: maximumFrameSize, largeFrameThreshold: largeFrameThreshold, memory: memory)
    }
}

/// Answers one request. Responses leave in request order whatever order they are given in.
public struct Responder: Sendable {
    let eventLoop: EventLoop
    let connection: ConnectionID
    let sequence: UInt64

    /// Sends `parts` as one frame (the reactor adds the 4-byte size).
    public func respond(_ parts: [ResponsePart]) { eventLoop.complete(connection, sequence: sequence, with: .parts(parts, measure: nil)) }

    public func respond(_ bytes: [UInt8]) { respond([.bytes(bytes)]) }

    /// Sends `parts` as one frame and, once its last byte is written, tells the connection's
    /// handler how long that took from now (`responseWritten`, with `tag`): the send time of
    /// the broker's request metrics.
    public func respond(_ parts: [ResponsePart], measuredAs tag: UInt16) {
        eventLoop.complete(
            connection, sequence: sequence, with: .parts(parts, measure: (tag, System.monotonicNanoseconds())))
    }

    /// This request gets no response (Kafka's acks=0), but later ones still wait for it.
    public func respondNothing() { eventLoop.complete(connection, sequence: sequence, with: .nothing) }

    /// Closes the connection once the responses before this one have been written
    /// (Kafka closes on an unparseable request, or an acks=0 produce that failed).
    public func closeConnection() { eventLoop.complete(connection, sequence: sequence, with: .close) }

    /// Sends `parts`, then closes the connection once they are written (Kafka's answer to a
    /// failed authentication).
    public func respondAndClose(_ parts: [ResponsePart]) {
        eventLoop.complete(connection, sequence: sequence, with: .partsThenClose(parts))
    }

    /// Stops reading the connection for `milliseconds` (a client over its quota, KIP-219:
    /// the answer goes out at once, the next requests wait).
    public func muteConnection(forMilliseconds milliseconds: Int) {
        eventLoop.mute(connection, forMilliseconds: milliseconds)
    }

    public var connectionID: ConnectionID { connection }
}

enum Completion: Sendable {
    /// With a measure, the handler is told when the last byte is written (its tag, and when
    /// the response was given).
    case parts([ResponsePart], measure: (tag: UInt16, completedAt: UInt64)?)
    case nothing
    case close
    case partsThenClose([ResponsePart])
}
