// Every Glibc call Swiftlet makes, wrapped once: errno read on the spot, EINTR retried,
// EAGAIN returned as `.wouldBlock`, anything else a SystemCallError naming the call.
// Callers above this file never see errno or -1.

import CSystemShims
import Glibc

#if !os(Linux)
    #error("Swiftlet runs on Linux only: its reactor is epoll, its storage memfd and sendfile.")
#endif

public enum System {
    // MARK: Sockets

    /// A non-blocking, close-on-exec TCP socket.
    public static func tcpSocket(family: Int32) throws(SystemCallError) -> Int32 {
        try retryingInterrupts("socket") {
            socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
    }

    public static func bind(_ descriptor: Int32, to address: SocketAddress) throws(SystemCallError) {
        _ = try address.withSockAddr { pointer, length throws(SystemCallError) in
            try retryingInterrupts("bind \(address)") { Glibc.bind(descriptor, pointer, length) }
        }
    }

    public static func listen(_ descriptor: Int32, backlog: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("listen") { Glibc.listen(descriptor, backlog) }
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket. ECONNABORTED (the
    /// peer left before we accepted) is retried like EINTR; EMFILE/ENFILE throw, and the
    /// caller backs off (`SystemCallError.isDescriptorExhaustion`).
    public static func accept(_ descriptor: Int32) throws(SystemCallError) -> IOResult<(descriptor: Int32, peer: SocketAddress?)> {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let accepted = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    swiftlet_accept4(descriptor, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            if accepted >= 0 { return .completed((accepted, SocketAddress(storage: storage))) }
            let error = swiftlet_errno()
            if error == EINTR || error == ECONNABORTED { continue }
            if error == EAGAIN || error == EWOULDBLOCK { return .wouldBlock }
            throw SystemCallError(call: "accept4", errno: error)
        }
    }

    /// Starts a connection; on a non-blocking socket EINPROGRESS is `.wouldBlock`.
    public static func connect(_ descriptor: Int32, to address: SocketAddress) throws(SystemCallError) -> IOResult<Void> {
        try address.withSockAddr { pointer, length throws(SystemCallError) in
            while true {
                if Glibc.connect(descriptor, pointer, length) == 0 { return .completed(()) }
                let error = swiftlet_errno()
                if error == EINTR { continue }
                // EALREADY: a retry after EINTR finds the first attempt still under way.
                if error == EINPROGRESS || error == EAGAIN || error == EALREADY { return .wouldBlock }
                throw SystemCallError(call: "connect \(address)", errno: error)
            }
        }
    }

    public static func setSocketOption(_ descriptor: Int32, level: Int32, option: Int32, value: Int32) throws(SystemCallError) {
        var value = value
        _ = try retryingInterrupts("setsockopt \(option)") {
            setsockopt(descriptor, level, option, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    public static func socketOption(_ descriptor: Int32, level: Int32, option: Int32) throws(SystemCallError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retryingInterrupts("getsockopt \(option)") { getsockopt(descriptor, level, option, &value, &length) }
        return value
    }

    public static func localAddress(_ descriptor: Int32) throws(SystemCallError) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SystemCallError) in
                try retryingInterrupts("getsockname") { getsockname(descriptor, raw, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }

    public static func shutdownWrite(_ descriptor: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("shutdown") { Glibc.shutdown(descriptor, Int32(SHUT_WR)) }
    }

    // MARK: Reading and writing

    /// Reads into `buffer`; `.completed(0)` is end of stream.
    public static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try nonBlocking("read") { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
    }

    public static func readv(_ descriptor: Int32, _ vectors: UnsafeBufferPointer<iovec>) throws(SystemCallError) -> IOResult<Int> {
        try nonBlocking("readv") { Glibc.readv(descriptor, vectors.baseAddress, Int32(vectors.count)) }
    }

    public static func write(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try nonBlocking("write") { Glibc.write(descriptor, buffer.baseAddress, buffer.count) }
    }

    public static func writev(_ descriptor: Int32, _ vectors: UnsafeBufferPointer<iovec>) throws(SystemCallError) -> IOResult<Int> {
        try nonBlocking("writev") { Glibc.writev(descriptor, vectors.baseAddress, Int32(vectors.count)) }
    }

    /// Copies `count` bytes of `file` from `offset` to `socket` in the kernel (zero copy).
    /// Returns the bytes sent; `offset` is not changed (the caller tracks progress).
    public static func sendfile(to socket: Int32, from file: Int32, offset: Int64, count: Int) throws(SystemCallError) -> IOResult<Int> {
        var position = off_t(offset)
        return try nonBlocking("sendfile") { Glibc.sendfile(socket, file, &position, count) }
    }

    /// Closes a descriptor. On Linux the descriptor is gone even when close reports EINTR,
    /// so it is never retried.
    public static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    public static func setNonBlocking(_ descriptor: Int32) throws(SystemCallError) {
        let flags = try retryingInterrupts("fcntl F_GETFL") { swiftlet_fcntl_int(descriptor, F_GETFL, 0) }
        _ = try retryingInterrupts("fcntl F_SETFL") { swiftlet_fcntl_int(descriptor, F_SETFL, flags | O_NONBLOCK) }
    }

    // MARK: epoll and eventfd

    public static func epollCreate() throws(SystemCallError) -> Int32 {
        try retryingInterrupts("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    public static func epollAdd(_ epoll: Int32, _ descriptor: Int32, events: EpollEvents, data: UInt64) throws(SystemCallError) {
        _ = try retryingInterrupts("epoll_ctl ADD") { swiftlet_epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, events.rawValue, data) }
    }

    public static func epollModify(_ epoll: Int32, _ descriptor: Int32, events: EpollEvents, data: UInt64) throws(SystemCallError) {
        _ = try retryingInterrupts("epoll_ctl MOD") { swiftlet_epoll_ctl(epoll, EPOLL_CTL_MOD, descriptor, events.rawValue, data) }
    }

    public static func epollRemove(_ epoll: Int32, _ descriptor: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("epoll_ctl DEL") { swiftlet_epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, 0, 0) }
    }

    /// Waits for events; `timeoutMilliseconds` -1 waits forever. An interrupted wait
    /// returns 0 events (the caller recomputes its timeout) rather than retrying blindly.
    public static func epollWait(
        _ epoll: Int32, events: UnsafeMutableBufferPointer<UInt32>,
        data: UnsafeMutableBufferPointer<UInt64>, timeoutMilliseconds: Int32
    ) throws(SystemCallError) -> Int {
        let count = swiftlet_epoll_wait(
            epoll, events.baseAddress, data.baseAddress, Int32(min(events.count, data.count)), timeoutMilliseconds)
        if count >= 0 { return Int(count) }
        let error = swiftlet_errno()
        if error == EINTR { return 0 }
        throw SystemCallError(call: "epoll_wait", errno: error)
    }

    public static func eventFileDescriptor() throws(SystemCallError) -> Int32 {
        try retryingInterrupts("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
    }

    /// Adds to an eventfd's counter; a full counter (EAGAIN) already guarantees a wake-up.
    public static func eventFileSignal(_ descriptor: Int32) throws(SystemCallError) {
        var one: UInt64 = 1
        _ = try nonBlocking("eventfd write") { Glibc.write(descriptor, &one, 8) }
    }

    /// Resets an eventfd's counter.
    public static func eventFileDrain(_ descriptor: Int32) throws(SystemCallError) {
        var value: UInt64 = 0
        _ = try nonBlocking("eventfd read") { Glibc.read(descriptor, &value, 8) }
    }

    // MARK: Signals

    /// Blocks `signals` in the calling thread (and threads it starts afterwards), so they
    /// are only delivered through a signalfd.
    public static func blockSignals(_ signals: [Int32]) throws(SystemCallError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        if result != 0 { throw SystemCallError(call: "pthread_sigmask", errno: result) }
    }

    public static func signalFileDescriptor(_ signals: [Int32]) throws(SystemCallError) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return try retryingInterrupts("signalfd") { signalfd(-1, &set, Int32(SFD_NONBLOCK) | Int32(SFD_CLOEXEC)) }
    }

    /// The next pending signal number from a signalfd.
    public static func readSignal(_ descriptor: Int32) throws(SystemCallError) -> IOResult<Int32> {
        var info = signalfd_siginfo()
        let result = try nonBlocking("read signalfd") { Glibc.read(descriptor, &info, MemoryLayout<signalfd_siginfo>.size) }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .completed: return .completed(Int32(info.ssi_signo))
        }
    }

    /// Writes a whole message to standard error (logs), retrying short writes.
    public static func writeStandardError(_ text: String) { writeAll(text, to: 2) }

    /// Writes `text` to standard output, unbuffered (a harness reading it sees it at once).
    public static func writeStandardOutput(_ text: String) { writeAll(text, to: 1) }

    private static func writeAll(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Writes to a closed socket then fail with EPIPE instead of killing the process.
    public static func ignoreBrokenPipeSignal() {
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }

    public static func raiseSignal(_ signal: Int32) {
        _ = Glibc.kill(getpid(), signal)
    }

    // MARK: Limits, time, threads

    /// RLIMIT_NOFILE as (soft, hard).
    public static func openFileLimit() throws(SystemCallError) -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        _ = try retryingInterrupts("getrlimit") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    public static func setOpenFileLimit(soft: UInt64, hard: UInt64) throws(SystemCallError) {
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        _ = try retryingInterrupts("setrlimit") { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
    }

    /// Monotonic time in nanoseconds (CLOCK_MONOTONIC, unaffected by wall-clock changes).
    public static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Pauses the calling thread (a background worker backing off); a signal may end it early.
    public static func sleep(milliseconds: Int) {
        var time = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
        _ = nanosleep(&time, nil)
    }

    /// Wall-clock milliseconds since the epoch (Kafka timestamps).
    public static func wallClockMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// The calling thread's kernel id.
    public static func currentThreadId() -> Int32 { swiftlet_gettid() }

    /// Open descriptors of this process (for leak checks in tests).
    public static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count - 3  // ".", "..", and the directory's own descriptor
    }
}
