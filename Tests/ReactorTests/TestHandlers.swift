// Handlers the reactor tests run: echo with out-of-order completion, fixed big responses,
// file regions, and one that records where it ran.

import Reactor
import Synchronization
import SystemCalls
import TestSupport

/// Echoes each frame reversed, completing it inline, on a loop timer after a random delay,
/// or from another thread, chosen by the frame's first byte: responses finish out of order.
struct ScrambledEchoFactory: ConnectionHandlerFactory {
    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler {
        ScrambledEcho(loop: connection.eventLoop)
    }
}

final class ScrambledEcho: ConnectionHandler {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    func received(frame: [UInt8], responder: Responder) {
        let reply = Array(frame.reversed())
        switch (frame.first ?? 0) % 3 {
        case 0:
            responder.respond(reply)
        case 1:
            loop.schedule(afterMilliseconds: Int(frame.count % 7)) { responder.respond(reply) }
        default:
            let worker = try? OSThread(name: "echo-worker") {
                responder.respond([.bytes(Array(reply.prefix(reply.count / 2))), .bytes(Array(reply.dropFirst(reply.count / 2)))])
            }
            if let worker { worker.detach() } else { responder.respond(reply) }
        }
    }

    func connectionClosed() {}
}

/// Answers every frame with `responseSize` bytes (a repeating pattern) or, when `file` is
/// set, with that file region.
struct BulkFactory: ConnectionHandlerFactory {
    let responseSize: Int
    var file: FileRegion?

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler {
        Bulk(responseSize: responseSize, file: file)
    }
}

final class Bulk: ConnectionHandler {
    let response: [UInt8]
    let file: FileRegion?
    init(responseSize: Int, file: FileRegion?) {
        response = (0..<responseSize).map { UInt8(truncatingIfNeeded: $0 % 251) }
        self.file = file
    }

    func received(frame: [UInt8], responder: Responder) {
        if let file {
            responder.respond([.bytes([1, 2, 3]), .file(file), .bytes([4, 5])])
        } else {
            responder.respond(response)
        }
    }

    func connectionClosed() {}
}

/// Holds every request until `release` is called: lets a test keep requests in flight.
final class HeldRequests: ConnectionHandlerFactory, @unchecked Sendable {
    // Guarded by `held`'s Mutex.
    let held = Mutex<[(frame: [UInt8], responder: Responder)]>([])
    let received = Atomic<Int>(0)

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { Holder(owner: self) }

    func releaseAll(with reply: [UInt8]) {
        release { _, responder in responder.respond(reply) }
    }

    /// Answers every held request with `answer`, given its frame.
    func release(_ answer: ([UInt8], Responder) -> Void) {
        let requests = held.withLock { list -> [(frame: [UInt8], responder: Responder)] in
            defer { list.removeAll() }
            return list
        }
        for (frame, responder) in requests { answer(frame, responder) }
    }

    final class Holder: ConnectionHandler {
        let owner: HeldRequests
        init(owner: HeldRequests) { self.owner = owner }
        func received(frame: [UInt8], responder: Responder) {
            owner.received.add(1, ordering: .relaxed)
            owner.held.withLock { $0.append((frame, responder)) }
        }
        func connectionClosed() {}
    }
}

/// Counts closed connections (connectionClosed must run exactly once per connection).
final class ClosedCounter: ConnectionHandlerFactory, @unchecked Sendable {
    let count = Atomic<Int>(0)

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { Counter(owner: self) }

    final class Counter: ConnectionHandler {
        let owner: ClosedCounter
        init(owner: ClosedCounter) { self.owner = owner }
        func received(frame: [UInt8], responder: Responder) { responder.respondNothing() }
        func connectionClosed() { owner.count.add(1, ordering: .relaxed) }
    }
}

/// A framing of its own, to show that each listener brings one: frames are lines, and a
/// response goes out as it is (the handler ends it with a newline).
struct LineFraming: Framing {
    private var pending: [UInt8] = []

    mutating func append(_ bytes: UnsafeRawBufferPointer, to frames: inout [[UInt8]]) throws(FramingError) {
        pending.append(contentsOf: bytes)
        while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
            frames.append(Array(pending[..<end]))
            pending.removeSubrange(...end)
        }
    }

    func responsePrefix(size: Int) throws(FramingError) -> [UInt8] { [] }
}

/// Echoes each line reversed, on line framing.
struct LineEchoFactory: ConnectionHandlerFactory {
    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { LineEcho() }
    func makeFraming(maximumFrameSize: Int, largeFrameThreshold: Int, memory: RequestMemoryPool?) -> any Framing { LineFraming() }

    final class LineEcho: ConnectionHandler {
        func received(frame: [UInt8], responder: Responder) { responder.respond(frame.reversed() + [UInt8(ascii: "\n")]) }
        func connectionClosed() {}
    }
}

/// Answers every frame at once with an empty response, and records each frame's first byte
/// in the order the loop handed them over.
final class ArrivalRecorder: ConnectionHandlerFactory, @unchecked Sendable {
    let order = Mutex<[UInt8]>([])

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { Recorder(owner: self) }

    final class Recorder: ConnectionHandler {
        let owner: ArrivalRecorder
        init(owner: ArrivalRecorder) { self.owner = owner }
        func received(frame: [UInt8], responder: Responder) {
            owner.order.withLock { $0.append(frame.first ?? 0) }
            responder.respond([UInt8]())
        }
        func connectionClosed() {}
    }
}
