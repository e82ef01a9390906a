// The multi-reactor server: an acceptor thread owns the listening sockets (and, when asked,
// SIGTERM/SIGINT through a signalfd) and hands each accepted socket to one of N event
// loops, round robin, for the connection's whole life.

import Glibc
import Synchronization
import SystemCalls

public struct ServerConfiguration: Sendable {
    public var listenAddresses: [SocketAddress]
    public var backlog: Int32 = 1_024
    /// Sub-reactors; Kafka's num.network.threads plays this role. Default: one per core.
    public var eventLoopCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    public var reactor = ReactorConfiguration()
    /// Handle SIGTERM/SIGINT: the first starts a graceful shutdown, a second exits at once.
    /// The caller must have blocked both signals (System.blockSignals) before starting
    /// any thread, so that only the signalfd sees them.
    public var handlesSignals = false
    /// Kafka's socket.send.buffer.bytes / socket.receive.buffer.bytes; nil keeps the OS's.
    public var socketSendBufferBytes: Int32?
    public var socketReceiveBufferBytes: Int32?
    /// How long accepting pauses when the process is out of file descriptors.
    public var acceptBackoffMilliseconds: Int32 = 100
    /// Runs on the acceptor thread when a graceful shutdown begins, before the event loops
    /// drain: what holds requests back (long polls, barriers) lets go of them here.
    public var shutdownBegins: (@Sendable () -> Void)?

    public init(listenAddresses: [SocketAddress]) {
        self.listenAddresses = listenAddresses
    }
}

public final class Server: @unchecked Sendable {
    // Immutable after init except through the acceptor thread, which alone touches
    // `listeners` and the epoll set; `shutdownRequested` is an eventfd, safe from anywhere.
    public let configuration: ServerConfiguration
    public let eventLoops: [EventLoop]
    /// The addresses actually bound (port 0 resolved), in `listenAddresses` order.
    public private(set) var boundAddresses: [SocketAddress] = []
    private var listeners: [Int32] = []
    /// What serves each listener's connections, in `listeners` order.
    private let handlerFactories: [any ConnectionHandlerFactory]
    private let epoll: Int32
    private let shutdownEvent: Int32
    private var signalDescriptor: Int32 = -1
    private var acceptor: OSThread?
    private var nextLoop = 0
    private let acceptedCount = Atomic<Int>(0)
    /// Called with a message for each notable event (a logger plugs in here).
    public let log: @Sendable (String) -> Void

    private static let shutdownData: UInt64 = .max
    private static let signalData: UInt64 = .max - 1

    /// One kind of connection on every listen address.
    public convenience init(
        configuration: ServerConfiguration, handlerFactory: any ConnectionHandlerFactory,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(SystemCallError) {
        try self.init(
            configuration: configuration,
            handlerFactories: Array(repeating: handlerFactory, count: configuration.listenAddresses.count), log: log)
    }

    /// A handler factory per listen address, in order: each listener brings its own handlers
    /// and its own framing (Kafka's length prefix, HTTP's lines) to the same event loops.
    public init(
        configuration: ServerConfiguration, handlerFactories: [any ConnectionHandlerFactory],
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(SystemCallError) {
        precondition(handlerFactories.count == configuration.listenAddresses.count, "one handler factory per listen address")
        self.configuration = configuration
        self.handlerFactories = handlerFactories
        self.log = log
        // A write to a peer that reset its connection raises SIGPIPE, whose default action
        // ends the process; sendfile has no MSG_NOSIGNAL, so ignore it process-wide.
        System.ignoreBrokenPipeSignal()
        var loops: [EventLoop] = []
        let memory =
            configuration.reactor.queuedMaximumRequestBytes > 0
            ? RequestMemoryPool(capacity: configuration.reactor.queuedMaximumRequestBytes) : nil
        for index in 0..<max(1, configuration.eventLoopCount) {
            loops.append(try EventLoop(name: "swiftlet-io-\(index)", configuration: configuration.reactor, memory: memory))
        }
        eventLoops = loops
        epoll = try System.epollCreate()
        shutdownEvent = try System.eventFileDescriptor()
        do throws(SystemCallError) {
            try System.epollAdd(epoll, shutdownEvent, events: .readable, data: Self.shutdownData)
            for (index, address) in configuration.listenAddresses.enumerated() {
                let descriptor = try System.tcpSocket(family: address.family)
                listeners.append(descriptor)
                try System.setSocketOption(descriptor, level: SOL_SOCKET, option: SO_REUSEADDR, value: 1)
                if address.family == AF_INET6 {
                    // "[::]" and "0.0.0.0" may both be listed: keep the families apart.
                    try System.setSocketOption(descriptor, level: Int32(IPPROTO_IPV6), option: IPV6_V6ONLY, value: 1)
                }
                try System.bind(descriptor, to: address)
                try System.listen(descriptor, backlog: configuration.backlog)
                try System.epollAdd(epoll, descriptor, events: .readable, data: UInt64(index))
                boundAddresses.append(try System.localAddress(descriptor) ?? address)
            }
            if configuration.handlesSignals {
                signalDescriptor = try System.signalFileDescriptor([SIGTERM, SIGINT])
                try System.epollAdd(epoll, signalDescriptor, events: .readable, data: Self.signalData)
            }
        } catch {
            // Every stored property is set, so deinit runs and closes what was opened.
            throw error
        }
    }

    deinit { closeDescriptors() }

    private func closeDescriptors() {
        for descriptor in listeners { System.close(descriptor) }
        listeners = []
        if signalDescriptor >= 0 { System.close(signalDescriptor) }
        signalDescriptor = -1
        System.close(shutdownEvent)
        System.close(epoll)
    }

    /// Starts the event loops and the acceptor.
    public func start() throws(SystemCallError) {
        var started: [EventLoop] = []
        do {
            for loop in eventLoops {
                try loop.start()
                started.append(loop)
            }
            let signals = configuration.handlesSignals
            acceptor = try OSThread(name: "swiftlet-accept") { [self] in
                // Blocked here too, so a signal sent to this thread waits for the signalfd.
                if signals { try? System.blockSignals([SIGTERM, SIGINT]) }
                acceptLoop()
            }
        } catch {
            // Out of threads part way: the loops already running end, rather than serve
            // nothing for ever beside the caller's error.
            for loop in started { loop.beginShutdown() }
            for loop in started { loop.join() }
            throw error
        }
    }

    /// Delivers `signal` to the acceptor thread, as the kernel would a SIGTERM (tests).
    func signalAcceptor(_ signal: Int32) throws(SystemCallError) {
        try acceptor?.send(signal: signal)
    }

    /// Graceful shutdown from any thread: stop accepting, let in-flight requests finish and
    /// responses flush, close. Returns at once; `waitUntilStopped` waits.
    public func shutdown() {
        try? System.eventFileSignal(shutdownEvent)
    }

    /// Blocks until the acceptor and every event loop thread have ended.
    public func waitUntilStopped() {
        acceptor?.join()
        for loop in eventLoops { loop.join() }
    }

    public var totalAccepted: Int { acceptedCount.load(ordering: .relaxed) }

    private func acceptLoop() {
        var events = [UInt32](repeating: 0, count: 16)
        var data = [UInt64](repeating: 0, count: 16)
        var pausedUntil: UInt64?
        var shuttingDown = false
        while true {
            var timeout: Int32 = -1
            if let until = pausedUntil {
                let now = System.monotonicNanoseconds()
                if now >= until {
                    pausedUntil = nil
                    setListening(true)
                    acceptAll()
                    continue
                }
                timeout = Int32((until - now) / 1_000_000 + 1)
            }
            if shuttingDown { timeout = 50 }
            let count =
                (try? events.withUnsafeMutableBufferPointer { eventBuffer throws(SystemCallError) in
                    try data.withUnsafeMutableBufferPointer { dataBuffer throws(SystemCallError) in
                        try System.epollWait(epoll, events: eventBuffer, data: dataBuffer, timeoutMilliseconds: timeout)
                    }
                }) ?? 0
            if shuttingDown && eventLoops.allSatisfy({ $0.hasStopped }) { return }
            for index in 0..<count {
                switch data[index] {
                case Self.shutdownData:
                    try? System.eventFileDrain(shutdownEvent)
                    if !shuttingDown {
                        shuttingDown = true
                        beginShutdown()
                    }
                case Self.signalData:
                    var signalsThisRound = 0
                    while case .completed(let signal) = (try? System.readSignal(signalDescriptor)) ?? .wouldBlock {
                        signalsThisRound += 1
                        // SIGTERM and SIGINT arriving together count as one request.
                        if shuttingDown && signalsThisRound == 1 {
                            log("second signal \(signal): exiting without waiting")
                            _exit(1)
                        }
                        if shuttingDown { continue }
                        log("signal \(signal): shutting down")
                        shuttingDown = true
                        beginShutdown()
                    }
                default:
                    if !shuttingDown, acceptAll() == .exhausted {
                        // Out of descriptors: stop polling the listeners for a while
                        // instead of spinning on a level-triggered readable socket.
                        setListening(false)
                        pausedUntil = System.monotonicNanoseconds() + UInt64(configuration.acceptBackoffMilliseconds) * 1_000_000
                    }
                }
            }
        }
    }

    private enum AcceptOutcome { case drained, exhausted }

    @discardableResult
    private func acceptAll() -> AcceptOutcome {
        for (listener, factory) in zip(listeners, handlerFactories) {
            while true {
                let result: IOResult<(descriptor: Int32, peer: SocketAddress?)>
                do {
                    result = try System.accept(listener)
                } catch {
                    // Out of descriptors or kernel memory: a level-triggered listener would spin,
                    // so stop polling it for a while.
                    log("accept: \(error); pausing for \(configuration.acceptBackoffMilliseconds) ms")
                    return .exhausted
                }
                guard case .completed((let descriptor, let peer)) = result else { break }
                try? System.setSocketOption(descriptor, level: Int32(IPPROTO_TCP), option: TCP_NODELAY, value: 1)
                if let size = configuration.socketSendBufferBytes {
                    try? System.setSocketOption(descriptor, level: SOL_SOCKET, option: SO_SNDBUF, value: size)
                }
                if let size = configuration.socketReceiveBufferBytes {
                    try? System.setSocketOption(descriptor, level: SOL_SOCKET, option: SO_RCVBUF, value: size)
                }
                let loop = eventLoops[nextLoop % eventLoops.count]
                nextLoop &+= 1
                acceptedCount.add(1, ordering: .relaxed)
                loop.execute { loop.adopt(descriptor: descriptor, peer: peer, factory: factory) }
            }
        }
        return .drained
    }

    private func setListening(_ listening: Bool) {
        for (index, descriptor) in listeners.enumerated() {
            if listening {
                try? System.epollAdd(epoll, descriptor, events: .readable, data: UInt64(index))
            } else {
                try? System.epollRemove(epoll, descriptor)
            }
        }
    }

    private func beginShutdown() {
        configuration.shutdownBegins?()
        for descriptor in listeners {
            try? System.epollRemove(epoll, descriptor)
            System.close(descriptor)
        }
        listeners = []
        for loop in eventLoops { loop.beginShutdown() }
    }
}
