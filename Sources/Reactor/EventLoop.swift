// One sub-reactor: a thread with its own epoll set, an eventfd for wake-ups, a task queue
// other threads post to, millisecond timers, and the connections that live on it for life.

import Glibc
import Synchronization
import SystemCalls

public struct ReactorConfiguration: Sendable {
    /// Kafka's socket.request.max.bytes.
    public var maximumFrameSize = 100 * 1024 * 1024
    /// Kafka's connections.max.idle.ms.
    public var idleTimeoutMilliseconds = 600_000
    /// Reading stops while more than this many response bytes wait to be written...
    public var outputHighWaterMark = 4 * 1024 * 1024
    /// ...and starts again below this.
    public var outputLowWaterMark = 1024 * 1024
    /// Reading also stops while this many requests wait for their responses.
    public var maximumInFlightRequests: UInt64 = 1_000
    /// Requests one connection hands over per turn: past it, the rest wait for its next
    /// turn, after every other busy connection's, so one client's pipeline never keeps a
    /// newcomer waiting (Kafka goes further: one request per connection at a time).
    public var maximumRequestsPerTurn = 16
    /// Kafka's queued.max.request.bytes: the memory that requests larger than one read
    /// (64 KiB) may hold until answered, shared by every connection of the server; a
    /// connection whose request does not fit waits, reading nothing (0 or less: no limit,
    /// Kafka's default). Kafka's default has no limit; a dev machine's broker wants one.
    public var queuedMaximumRequestBytes = 128 * 1024 * 1024
    /// One connection holding this much of it in unanswered requests reads no more until
    /// answers give some back, so a pipelining client cannot take the whole pool.
    public var maximumQueuedRequestBytesPerConnection = 32 * 1024 * 1024
    /// How long a TLS handshake may take before its connection is closed.
    public var tlsHandshakeTimeoutMilliseconds = 10_000
    /// How long a graceful shutdown waits for in-flight requests and queued responses.
    public var shutdownGracePeriodMilliseconds = 30_000

    public init() {}
}

public final class EventLoop: @unchecked Sendable {
    // Everything but `tasks` is touched only on this loop's thread (preconditionInEventLoop
    // checks it, in release builds too);
    // `tasks` is guarded by its Mutex.
    public let name: String
    let configuration: ReactorConfiguration
    private let epoll: Int32
    private let wakeDescriptor: Int32
    /// Tasks, and whether the loop has ended (then new tasks are dropped, not leaked).
    private let tasks = Mutex<(queue: [@Sendable () -> Void], closed: Bool)>(([], false))
    private var timers = TimerQueue()
    private var connections: [Int32: Connection] = [:]
    private var nextGeneration: UInt32 = 1
    private let threadIdentifier = Atomic<Int32>(0)
    private var thread: OSThread?
    private var stopping = false
    private let stopped = Atomic<Bool>(false)
    private var draining = false
    /// Read scratch space shared by this loop's connections.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    /// Connections with work left when their turn ended (frames past the per-turn limit, or
    /// bytes not read yet), served in order after each epoll wait, which does not block
    /// while any are waiting.
    private var waitingTurns: [Connection] = []

    private static let wakeData = UInt64.max
    private static let readEvents: EpollEvents = [.readable, .peerClosed, .edgeTriggered]
    private static let writeEvents: EpollEvents = readEvents.union(.writable)

    /// Shared by the server's loops (ReactorConfiguration.queuedMaximumRequestBytes).
    public let memory: RequestMemoryPool?

    public init(name: String, configuration: ReactorConfiguration, memory: RequestMemoryPool? = nil) throws(SystemCallError) {
        self.name = name
        self.configuration = configuration
        self.memory = memory
        let epoll = try System.epollCreate()
        let wake: Int32
        do {
            wake = try System.eventFileDescriptor()
        } catch {
            System.close(epoll)
            throw error
        }
        do {
            try System.epollAdd(epoll, wake, events: .readable, data: Self.wakeData)
        } catch {
            System.close(wake)
            System.close(epoll)
            throw error
        }
        self.epoll = epoll
        wakeDescriptor = wake
    }

    deinit {
        System.close(wakeDescriptor)
        System.close(epoll)
    }

    // MARK: Threads

    public func start() throws(SystemCallError) {
        thread = try OSThread(name: name) { [self] in
            threadIdentifier.store(System.currentThreadId(), ordering: .releasing)
            run()
        }
    }

    public func join() { thread?.join() }

    public var inEventLoop: Bool { threadIdentifier.load(ordering: .acquiring) == System.currentThreadId() }

    /// Loop-only code calls this first: state here is not locked, and another thread
    /// reaching it would corrupt it, so the check holds in release builds too (the thread id
    /// is cached per thread, so it costs a load and a compare).
    @inline(__always)
    public func preconditionInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inEventLoop, "not on event loop \(name)", file: file, line: line)
    }

    /// Runs `task` on this loop's thread, soon. Safe from any thread. False when the loop has
    /// ended: the task will not run (a caller waiting for it must not wait).
    @discardableResult
    public func execute(_ task: @escaping @Sendable () -> Void) -> Bool {
        let (accepted, wasEmpty) = tasks.withLock { state -> (Bool, Bool) in
            if state.closed { return (false, false) }
            state.queue.append(task)
            return (true, state.queue.count == 1)
        }
        // A non-empty queue already has a wake-up on its way.
        if wasEmpty { try? System.eventFileSignal(wakeDescriptor) }
        return accepted
    }

    /// Runs `callback` on this loop after `milliseconds`. Loop thread only.
    @discardableResult
    public func schedule(afterMilliseconds milliseconds: Int, _ callback: @escaping () -> Void) -> UInt64 {
        preconditionInEventLoop()
        return timers.schedule(deadline: System.monotonicNanoseconds() + UInt64(max(milliseconds, 0)) * 1_000_000, callback)
    }

    public func cancelTimer(_ id: UInt64) {
        preconditionInEventLoop()
        timers.cancel(id)
    }

    public var connectionCount: Int {
        preconditionInEventLoop()
        return connections.count
    }

    /// Response bytes queued on this loop's connections, not yet written. Loop thread only.
    public var queuedOutputBytes: Int {
        preconditionInEventLoop()
        return connections.values.reduce(0) { $0 + $1.outbound.queuedBytes }
    }

    // MARK: The loop

    private func run() {
        scheduleIdleSweep()
        var events = [UInt32](repeating: 0, count: 256)
        var data = [UInt64](repeating: 0, count: 256)
        while !stopping {
            let timeout = nextTimeout()
            let count: Int
            do {
                count = try events.withUnsafeMutableBufferPointer { eventBuffer throws(SystemCallError) in
                    try data.withUnsafeMutableBufferPointer { dataBuffer throws(SystemCallError) in
                        try System.epollWait(epoll, events: eventBuffer, data: dataBuffer, timeoutMilliseconds: timeout)
                    }
                }
            } catch {
                fatalError("\(name): \(error)")  // EBADF/EINVAL on our own epoll: a bug
            }
            for index in 0..<count {
                if data[index] == Self.wakeData {
                    try? System.eventFileDrain(wakeDescriptor)
                } else {
                    handleEvent(EpollEvents(rawValue: events[index]), id: ConnectionID(epollData: data[index]))
                }
            }
            let now = System.monotonicNanoseconds()
            // One at a time: a callback may cancel another timer due in the same tick.
            while let callback = timers.popDue(now: now) { callback() }
            runTasks()
            serveWaitingTurns()
        }
        for connection in Array(connections.values) { close(connection) }
        // Timers and tasks capture the loop; dropping them breaks the cycle so it can deinit.
        // Sockets handed over but not yet adopted are closed by running those tasks (adopt
        // closes while draining).
        timers = TimerQueue()
        waitingTurns = []
        let leftover = tasks.withLock { state -> [@Sendable () -> Void] in
            state.closed = true
            defer { state.queue.removeAll() }
            return state.queue
        }
        for task in leftover { task() }
        threadIdentifier.store(0, ordering: .releasing)
        stopped.store(true, ordering: .releasing)
    }

    /// True once the loop's thread has left its loop (after shutdown).
    public var hasStopped: Bool { stopped.load(ordering: .acquiring) }

    private func nextTimeout() -> Int32 {
        if !waitingTurns.isEmpty || !tasks.withLock({ $0.queue.isEmpty }) { return 0 }
        guard let deadline = timers.nextDeadline() else { return -1 }
        let now = System.monotonicNanoseconds()
        if deadline <= now { return 0 }
        // Round up so a timer never fires before its deadline.
        return Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    private func runTasks() {
        let batch = tasks.withLock { state -> [@Sendable () -> Void] in
            defer { state.queue.removeAll(keepingCapacity: true) }
            return state.queue
        }
        for task in batch { task() }
    }

    // MARK: Connections

    /// Takes ownership of a socket accepted on a listener whose connections `factory` serves
    /// (their handler and their framing). Loop thread only.
    func adopt(descriptor: Int32, peer: SocketAddress?, factory: any ConnectionHandlerFactory) {
        preconditionInEventLoop()
        if draining {
            System.close(descriptor)
            return
        }
        let id = ConnectionID(descriptor: descriptor, generation: nextGeneration)
        nextGeneration = nextGeneration == UInt32.max ? 1 : nextGeneration + 1
        let info = ConnectionInfo(id: id, peer: peer, local: try? System.localAddress(descriptor), eventLoop: self)
        let transport: any Transport
        if let tls = factory.tls {
            do {
                transport = try TLSTransport(descriptor: descriptor, context: tls)
            } catch {
                System.close(descriptor)
                return
            }
        } else {
            transport = PlainSocketTransport(descriptor: descriptor)
        }
        let connection = Connection(
            id: id, peer: peer, handler: factory.makeHandler(for: info),
            transport: transport,
            framing: factory.makeFraming(
                maximumFrameSize: configuration.maximumFrameSize,
                largeFrameThreshold: scratch.count, memory: memory),
            now: System.monotonicNanoseconds())
        if connection.handler.refusesConnection {
            // Over a connection quota: closed before anything is read.
            System.close(descriptor)
            connection.handler.connectionClosed()
            return
        }
        do {
            try System.epollAdd(epoll, descriptor, events: Self.readEvents, data: id.epollData)
        } catch {
            System.close(descriptor)
            connection.handler.connectionClosed()
            return
        }
        connections[descriptor] = connection
        if !transport.handshakeComplete {
            // A TLS handshake that does not finish in time closes the connection: a client
            // that opens and stalls holds a descriptor and OpenSSL's state for nothing.
            _ = schedule(afterMilliseconds: configuration.tlsHandshakeTimeoutMilliseconds) { [self] in
                guard let connection = connections[id.descriptor], connection.id == id, !connection.transport.handshakeComplete else {
                    return
                }
                close(connection)
            }
        }
        // Edge-triggered: bytes that arrived before registration raise no edge.
        readAvailable(connection)
    }

    private func handleEvent(_ events: EpollEvents, id: ConnectionID) {
        // A stale event for a closed connection whose fd was reused: the generation differs.
        guard let connection = connections[id.descriptor], connection.id == id else { return }
        connection.requestsThisTurn = 0
        if events.contains(.writable) {
            flush(connection)
            // TLS: a read may have stopped because OpenSSL had to write first (a handshake
            // flight, a key update), and a handshake may have just finished in that flush
            // with the client's first request already in; no read edge will come for either.
            if !connection.transport.shortReadMeansDrained && !connection.isClosed && connection.state.isReading {
                readAvailable(connection)
            }
        }
        if !events.isDisjoint(with: [.peerClosed, .hangUp, .error]) {
            connection.peerClosed = true
            // Paused or draining connections do not read, so an edge-triggered hang-up
            // would be lost: Kafka drops the connection on EOF anyway.
            if events.contains(.hangUp) || events.contains(.error) || !connection.state.isReading {
                close(connection)
                return
            }
        }
        if !events.isDisjoint(with: [.readable, .peerClosed]), !connection.isClosed {
            readAvailable(connection)
        }
    }

    private func readAvailable(_ connection: Connection) {
        if connection.mutedUntil > 0 {
            connection.mayHaveUnreadData = true
            return
        }
        if connection.framing.isAwaitingMemory {
            connection.mayHaveUnreadData = true
            awaitMemory(for: connection)
            return
        }
        if !connection.state.isReading || connection.hasParkedFrames || turnIsOver(connection) {
            connection.mayHaveUnreadData = true
            if connection.state.isReading { queueTurn(connection) }
            return
        }
        connection.mayHaveUnreadData = false
        connection.handlingReadBatch = true
        defer {
            connection.handlingReadBatch = false
            if !connection.isClosed { flush(connection) }
        }
        while !connection.isClosed {
            let result: IOResult<Int>
            do {
                result = try scratch.withUnsafeMutableBytes { buffer throws(SystemCallError) in
                    try connection.transport.read(into: buffer)
                }
            } catch {
                connection.handler.transportFailed(error as? SystemCallError ?? SystemCallError(call: "read", errno: EIO))
                close(connection)  // ECONNRESET and friends, or a TLS failure
                return
            }
            guard case .completed(let count) = result else { return }  // EAGAIN: drained
            if count == 0 {
                // The peer closed its side; Kafka drops what it had not answered.
                close(connection)
                return
            }
            connection.lastActivity = System.monotonicNanoseconds()
            if !connection.announcedTransport && connection.transport.handshakeComplete {
                connection.announcedTransport = true
                guard connection.handler.transportEstablished(peerSubject: connection.transport.peerSubject) else {
                    close(connection)
                    return
                }
            }
            consume(count, from: connection)
            if connection.mutedUntil > 0 && !connection.isClosed {
                // Throttled by a handler meanwhile: the rest waits for the unmute.
                connection.mayHaveUnreadData = true
                return
            }
            if connection.framing.isAwaitingMemory && !connection.isClosed {
                connection.mayHaveUnreadData = true
                awaitMemory(for: connection)
                return
            }
            if !connection.state.isReading || connection.hasParkedFrames || turnIsOver(connection) {
                // Not read to EAGAIN: edge-triggered, no new event would come for these bytes.
                connection.mayHaveUnreadData = true
                if connection.state.isReading { queueTurn(connection) }
                return
            }
            // A short read drained the socket (epoll(7): for stream sockets that is as good
            // as EAGAIN); new bytes raise a new edge. Saves a read per request. Not when the
            // peer has closed: then read on to the end of stream and close.
            if count < scratch.count && !connection.peerClosed && connection.transport.shortReadMeansDrained { return }
        }
    }

    /// Hands the whole frames among the `count` new bytes (plus any carried-over partial
    /// frame) to the handler. Frames are copied out before any handler runs, so no buffer is
    /// borrowed while handlers (and whatever they wake) execute. A size no frame may have
    /// closes the connection, before anything is allocated for it, once the frames before it
    /// have been handed over (as Kafka reads request after request until the bad one).
    private func consume(_ count: Int, from connection: Connection) {
        var frames: [[UInt8]] = []
        connection.framing.limitFrames(to: connection.handler.frameSizeLimit)
        let framed = scratch.withUnsafeBytes { raw in
            Result { () throws(FramingError) in
                try connection.framing.append(UnsafeRawBufferPointer(rebasing: raw[0..<count]), to: &frames)
            }
        }
        guard case .failure(let error) = framed else {
            deliver(frames, to: connection)
            return
        }
        // The connection closes next: its last frames are handed over now, not in later turns.
        deliver(frames, to: connection, wholly: true)
        connection.handler.framingFailed(error)
        close(connection)
    }

    /// Hands frames to the handler in order; past the turn's limit (unless `wholly`) or once
    /// backpressure pauses the connection, the rest wait in `parkedFrames` (one read can hold
    /// thousands of small requests).
    private func deliver(_ frames: [[UInt8]], to connection: Connection, wholly: Bool = false) {
        for frame in frames {
            guard connection.state.acceptsRequests else { return }
            if connection.state == .readingPaused || connection.hasParkedFrames || (!wholly && turnIsOver(connection)) {
                connection.parkedFrames.append(frame)
                if connection.state.isReading { queueTurn(connection) }
                continue
            }
            handOver(frame, to: connection)
            updateBackpressure(connection)
        }
    }

    private func handOver(_ frame: [UInt8], to connection: Connection) {
        let sequence = connection.responses.register()
        if memory != nil && frame.count > scratch.count {
            // Reserved by the framing before its bytes were kept; given back with the answer.
            connection.reservations[sequence] = frame.count
            connection.reservedBytes += frame.count
        }
        connection.requestsThisTurn += 1
        connection.handler.received(frame: frame, responder: Responder(eventLoop: self, connection: connection.id, sequence: sequence))
    }

    /// After a pause: parked frames first, then whatever the socket still holds. The flush at
    /// the end may drain the output and ask to resume again; that is a turn of this loop, not
    /// a deeper call (a fast reader pipelining a lot would otherwise grow the stack).
    private func resumeReading(_ connection: Connection) {
        guard connection.resume == .idle else {
            connection.resume = .runAgain
            return
        }
        defer { connection.resume = .idle }
        repeat {
            connection.resume = .running
            resumeOnce(connection)
        } while connection.resume == .runAgain && connection.state.isReading
    }

    private func resumeOnce(_ connection: Connection) {
        connection.handlingReadBatch = true
        while connection.hasParkedFrames, connection.state.isReading, !turnIsOver(connection) {
            let frame = connection.parkedFrames[connection.parkedHead]
            connection.parkedFrames[connection.parkedHead] = []
            connection.parkedHead += 1
            handOver(frame, to: connection)
            updateBackpressure(connection)
        }
        if !connection.hasParkedFrames {
            connection.parkedFrames = []
            connection.parkedHead = 0
        }
        connection.handlingReadBatch = false
        if connection.isClosed { return }
        if connection.state.isReading && connection.mayHaveUnreadData && !connection.hasParkedFrames && !turnIsOver(connection) {
            readAvailable(connection)
            return
        }
        // The turn ended with frames parked or bytes unread: another comes after the others'.
        if connection.state.isReading && (connection.hasParkedFrames || connection.mayHaveUnreadData) { queueTurn(connection) }
        flush(connection)
    }

    // MARK: Throttling

    /// Reads nothing from the connection for `milliseconds` (the longest of overlapping mutes
    /// wins), then reads what arrived meanwhile.
    func mute(_ id: ConnectionID, forMilliseconds milliseconds: Int) {
        guard inEventLoop else {
            execute { [self] in mute(id, forMilliseconds: milliseconds) }
            return
        }
        guard milliseconds > 0, let connection = connections[id.descriptor], connection.id == id, !connection.isClosed else { return }
        let until = System.monotonicNanoseconds() + UInt64(milliseconds) * 1_000_000
        guard until > connection.mutedUntil else { return }
        connection.mutedUntil = until
        _ = schedule(afterMilliseconds: milliseconds) { [self] in
            guard let connection = connections[id.descriptor], connection.id == id, !connection.isClosed,
                connection.mutedUntil == until
            else { return }
            connection.mutedUntil = 0
            if connection.state.isReading { resumeReading(connection) }
        }
    }

    // MARK: Request memory

    /// Mutes a connection whose next frame does not fit in the pool until a release
    /// (on any loop) leaves room; then it reads again from where it stopped.
    private func awaitMemory(for connection: Connection) {
        guard let memory, !connection.waitingForMemory else { return }
        connection.waitingForMemory = true
        let id = connection.id
        memory.whenAvailable { [self] in
            execute { [self] in
                guard let connection = connections[id.descriptor], connection.id == id, !connection.isClosed else { return }
                connection.waitingForMemory = false
                if connection.framing.retryReservation() {
                    readAvailable(connection)
                } else {
                    awaitMemory(for: connection)
                }
            }
        }
    }

    /// Gives back the memory of the request answered by `sequence`, if it held some.
    private func releaseMemory(of sequence: UInt64, for connection: Connection) {
        guard let bytes = connection.reservations.removeValue(forKey: sequence) else { return }
        connection.reservedBytes -= bytes
        memory?.release(bytes)
    }

    // MARK: Turns

    private func turnIsOver(_ connection: Connection) -> Bool {
        connection.requestsThisTurn >= max(1, configuration.maximumRequestsPerTurn)
    }

    /// Gives `connection` another turn after the others waiting for one.
    private func queueTurn(_ connection: Connection) {
        guard !connection.hasTurnQueued else { return }
        connection.hasTurnQueued = true
        waitingTurns.append(connection)
    }

    /// One more turn for each connection that had work left: its parked frames, then its
    /// socket, up to the per-turn limit again. Turns queued meanwhile wait for the next round,
    /// after the next epoll wait, so that newcomers and timers get theirs in between.
    private func serveWaitingTurns() {
        guard !waitingTurns.isEmpty else { return }
        var round: [Connection] = []
        swap(&round, &waitingTurns)
        for connection in round {
            connection.hasTurnQueued = false
            connection.requestsThisTurn = 0
            if connection.state.isReading { resumeReading(connection) }
        }
    }

    // MARK: Responses

    /// Called by Responder from any thread.
    func complete(_ id: ConnectionID, sequence: UInt64, with completion: Completion) {
        guard inEventLoop else {
            execute { [self] in complete(id, sequence: sequence, with: completion) }
            return
        }
        guard let connection = connections[id.descriptor], connection.id == id, !connection.isClosed else { return }
        do {
            try connection.responses.complete(sequence, with: completion)
        } catch {
            assertionFailure("\(id): \(error)")
            return
        }
        releaseMemory(of: sequence, for: connection)
        while let current = connection.responses.nextReady() {
            switch current {
            case .parts(let parts, _), .partsThenClose(let parts):
                let prefix: [UInt8]
                do {
                    prefix = try connection.framing.responsePrefix(size: parts.reduce(0) { $0 + $1.count })
                } catch {
                    assertionFailure("\(id): \(error)")
                    close(connection)
                    return
                }
                connection.outbound.append(.bytes(prefix))
                for part in parts { connection.outbound.append(part) }
                if case .parts(_, let measure?) = current {
                    connection.measuredResponses.append((connection.outbound.appendedBytes, measure.tag, measure.completedAt))
                }
                if case .partsThenClose = current, connection.state != .closingAfterFlush {
                    connection.state.move(to: .closingAfterFlush)
                }
            case .nothing:
                break
            case .close:
                if connection.state != .closingAfterFlush { connection.state.move(to: .closingAfterFlush) }
            }
        }
        if !connection.handlingReadBatch { flush(connection) }
    }

    private func flush(_ connection: Connection) {
        let result: OutboundQueue.FlushResult
        let queuedBefore = connection.outbound.queuedBytes
        do {
            result = try connection.transport.flush(&connection.outbound)
        } catch {
            connection.handler.transportFailed(error)
            close(connection)
            return
        }
        if connection.outbound.queuedBytes != queuedBefore { connection.lastActivity = System.monotonicNanoseconds() }
        if connection.measuredHead < connection.measuredResponses.count { reportWrittenResponses(connection) }
        let wantWrite = result == .wouldBlock || connection.transport.interest.contains(.wantsWrite)
        if wantWrite != connection.writeInterest {
            // EPOLLOUT only while a write would block: armed permanently, a level-triggered
            // write event would spin the CPU.
            connection.writeInterest = wantWrite
            do {
                try System.epollModify(
                    epoll, connection.id.descriptor, events: wantWrite ? Self.writeEvents : Self.readEvents,
                    data: connection.id.epollData)
            } catch {
                close(connection)
                return
            }
        }
        if result == .drained && connection.state == .closingAfterFlush {
            close(connection)
            return
        }
        if connection.state == .draining && connection.isIdleCandidate {
            close(connection)
            return
        }
        updateBackpressure(connection)
    }

    /// Tells the handler of each measured response written whole since the last flush.
    private func reportWrittenResponses(_ connection: Connection) {
        let written = connection.outbound.writtenBytes
        let now = System.monotonicNanoseconds()
        while connection.measuredHead < connection.measuredResponses.count {
            let response = connection.measuredResponses[connection.measuredHead]
            guard response.end <= written else { break }
            connection.measuredHead += 1
            connection.handler.responseWritten(tag: response.tag, nanoseconds: now &- response.completedAt)
        }
        if connection.measuredHead == connection.measuredResponses.count {
            connection.measuredResponses.removeAll(keepingCapacity: true)
            connection.measuredHead = 0
        } else if connection.measuredHead > 1024 && connection.measuredHead * 2 > connection.measuredResponses.count {
            // A connection whose output never drains whole (pipelined, read slowly).
            connection.measuredResponses.removeFirst(connection.measuredHead)
            connection.measuredHead = 0
        }
    }

    /// Stops reading a connection whose output or in-flight requests pile up; resumes it
    /// below the low-water mark. Other connections are not affected.
    private func updateBackpressure(_ connection: Connection) {
        let queued = connection.outbound.queuedBytes
        switch connection.state {
        case .open:
            if queued > configuration.outputHighWaterMark || connection.inFlight >= configuration.maximumInFlightRequests
                || connection.reservedBytes >= configuration.maximumQueuedRequestBytesPerConnection
            {
                connection.state.move(to: .readingPaused)
            }
        case .readingPaused:
            if queued < configuration.outputLowWaterMark && connection.inFlight < configuration.maximumInFlightRequests / 2 + 1
                && connection.reservedBytes < configuration.maximumQueuedRequestBytesPerConnection
            {
                connection.state.move(to: .open)
                if !connection.handlingReadBatch { resumeReading(connection) }
            }
        case .draining, .closingAfterFlush, .closed:
            break
        }
    }

    private func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.state.move(to: .closed)
        if let memory {
            connection.framing.abandon()
            let parked = connection.parkedFrames[connection.parkedHead...].reduce(0) { $0 + ($1.count > scratch.count ? $1.count : 0) }
            memory.release(connection.reservedBytes + parked)
            connection.reservations = [:]
            connection.reservedBytes = 0
        }
        try? System.epollRemove(epoll, connection.id.descriptor)
        System.close(connection.id.descriptor)
        connections.removeValue(forKey: connection.id.descriptor)
        connection.handler.connectionClosed()
        if draining && connections.isEmpty { stopping = true }
    }

    // MARK: Idle connections and shutdown

    private func scheduleIdleSweep() {
        let interval = max(10, min(configuration.idleTimeoutMilliseconds / 10, 10_000))
        _ = timers.schedule(deadline: System.monotonicNanoseconds() + UInt64(interval) * 1_000_000) { [self] in
            // Idle means no byte moved either way: a client that stopped reading its
            // responses is as idle as one that stopped sending.
            let now = System.monotonicNanoseconds()
            let timeout = UInt64(max(configuration.idleTimeoutMilliseconds, 0)) * 1_000_000
            for connection in Array(connections.values)
            where connection.inFlight == 0 && now - min(connection.lastActivity, now) > timeout {
                close(connection)
            }
            scheduleIdleSweep()
        }
    }

    /// Stops reading new requests, lets in-flight ones finish and their responses flush,
    /// then closes every connection and ends the thread; after the grace period it closes
    /// whatever is left. Safe from any thread.
    public func beginShutdown() {
        execute { [self] in
            guard !draining else { return }
            draining = true
            for connection in Array(connections.values) {
                if connection.state.acceptsRequests { connection.state.move(to: .draining) }
                if connection.isIdleCandidate { close(connection) }
            }
            if connections.isEmpty { stopping = true }
            _ = timers.schedule(
                deadline: System.monotonicNanoseconds() + UInt64(max(configuration.shutdownGracePeriodMilliseconds, 0)) * 1_000_000
            ) { [self] in
                stopping = true
            }
        }
    }
}
