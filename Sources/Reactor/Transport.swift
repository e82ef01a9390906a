// The seam between a connection and its socket: the reactor reads and writes through a
// transport, plain TCP or TLS (TLSTransport), whose handshake and records need the socket
// for their own reasons, apart from Kafka's backpressure.

import SystemCalls

/// What a transport itself waits for from the socket, apart from the connection's wish to
/// read requests or write responses (a TLS handshake wants to write while the broker has
/// nothing to send, or to read while the connection is paused).
struct TransportInterest: OptionSet, Sendable {
    let rawValue: UInt8
    static let wantsRead = TransportInterest(rawValue: 1)
    static let wantsWrite = TransportInterest(rawValue: 2)
}

protocol Transport {
    /// Reads what the socket has into `buffer`; `.wouldBlock` when it has nothing.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int>
    /// Writes what it can of `queue`, file regions included: a transport that cannot send them
    /// with sendfile (TLS without kernel TLS) reads them into a buffer of its own.
    func flush(_ queue: inout OutboundQueue) throws(SystemCallError) -> OutboundQueue.FlushResult
    /// Whether file regions go out with sendfile, straight from the page cache (zero copy), or
    /// through memory: what the benchmarks and the README report for a listener.
    var sendsFileRegions: Bool { get }
    /// What the transport waits for on its own account; plain TCP never waits.
    var interest: TransportInterest { get }
    /// Whether a read shorter than the buffer means the socket has nothing more (plain TCP),
    /// or the transport hands over less than it holds (TLS, a record at a time).
    var shortReadMeansDrained: Bool { get }
    /// The peer's certificate subject, once a TLS handshake has checked one.
    var peerSubject: String? { get }
    /// Whether the transport is ready for the connection's requests (TLS: handshake done).
    var handshakeComplete: Bool { get }
}

/// Plain TCP: reads with read(2), writes byte parts with writev and file regions with
/// sendfile, straight from the page cache.
struct PlainSocketTransport: Transport {
    let descriptor: Int32

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try System.read(descriptor, into: buffer)
    }

    func flush(_ queue: inout OutboundQueue) throws(SystemCallError) -> OutboundQueue.FlushResult {
        try queue.flush(to: descriptor)
    }

    var sendsFileRegions: Bool { true }
    var interest: TransportInterest { [] }
    var shortReadMeansDrained: Bool { true }
    var peerSubject: String? { nil }
    var handshakeComplete: Bool { true }
}
