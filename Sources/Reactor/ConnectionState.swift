// The life of a connection as one value: each move is named, and a move the reactor must
// never make (reading again after a close was decided, say) stops debug builds.

enum ConnectionState: Equatable, Sendable {
    /// Reading and handing requests over.
    case open
    /// Backpressure: too many response bytes queued or requests in flight. Frames already
    /// read wait; the socket is not read until the queue drains below the low-water mark.
    case readingPaused
    /// Shutdown: no new request is handed over; the connection closes once what is in
    /// flight has been answered and written.
    case draining
    /// A close was asked for (an unparseable request, a failed acks=0 produce): the
    /// responses before it are written, then the connection closes.
    case closingAfterFlush
    case closed

    /// Whether the socket is read and frames are handed over now.
    var isReading: Bool { self == .open }

    /// Whether frames read are still handed over, now or once reading resumes.
    var acceptsRequests: Bool { self == .open || self == .readingPaused }

    /// The moves a connection may make; every other one is a reactor bug.
    func canMove(to next: ConnectionState) -> Bool {
        switch (self, next) {
        case (.open, .readingPaused), (.readingPaused, .open): return true
        case (.open, .draining), (.readingPaused, .draining): return true
        case (.open, .closingAfterFlush), (.readingPaused, .closingAfterFlush), (.draining, .closingAfterFlush): return true
        case (.open, .closed), (.readingPaused, .closed), (.draining, .closed), (.closingAfterFlush, .closed): return true
        default: return false
        }
    }

    mutating func move(to next: ConnectionState, file: StaticString = #fileID, line: UInt = #line) {
        assert(canMove(to: next), "connection state \(self) cannot move to \(next)", file: file, line: line)
        self = next
    }
}
