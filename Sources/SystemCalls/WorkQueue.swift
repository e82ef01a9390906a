// One thread running closures in the order they came, and periodic jobs between them: work
// that blocks on the disk (creating or deleting a topic's files) or runs on a clock
// (retention, compaction, coordinator deadlines) goes here instead of onto a reactor.

public final class WorkQueue: @unchecked Sendable {
    private struct Periodic {
        let intervalMilliseconds: Int
        var due: UInt64
        let work: @Sendable () -> Void
    }

    // `lock` guards `pending`, `periodic` and `stopped`.
    private let lock = Lock()
    private var pending: [@Sendable () -> Void] = []
    private var periodic: [Periodic] = []
    private var stopped = false
    private let wake: Int32
    private var thread: OSThread?

    public init(name: String) throws(SystemCallError) {
        wake = try System.eventFileDescriptor()
        do {
            thread = try OSThread(name: name) { [self] in run() }
        } catch {
            System.close(wake)
            throw error
        }
    }

    deinit { System.close(wake) }

    /// Runs `work` on the queue's thread after everything queued before it; once the queue
    /// has stopped, on the caller's thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        lock.lock()
        let accepted = !stopped
        if accepted { pending.append(work) }
        lock.unlock()
        if accepted { try? System.eventFileSignal(wake) } else { work() }
    }

    /// Queues `work` like `execute`, but drops it once the queue has stopped (returning
    /// false), for callers that hold a lock the work takes.
    @discardableResult
    public func executeIfRunning(_ work: @escaping @Sendable () -> Void) -> Bool {
        let accepted = lock.withLock {
            if !stopped { pending.append(work) }
            return !stopped
        }
        if accepted { try? System.eventFileSignal(wake) }
        return accepted
    }

    /// Runs `work` on the queue's thread every `milliseconds` (at least 1; first after one
    /// interval) until the queue stops. A job that overruns delays the next ones, never
    /// doubles up.
    public func every(milliseconds: Int, _ work: @escaping @Sendable () -> Void) {
        let interval = max(milliseconds, 1)
        lock.lock()
        periodic.append(
            Periodic(
                intervalMilliseconds: interval,
                due: System.deadline(afterMilliseconds: interval, from: System.monotonicNanoseconds()), work: work))
        lock.unlock()
        try? System.eventFileSignal(wake)
    }

    /// Runs what is queued, then ends the thread; periodic jobs do not run again.
    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        try? System.eventFileSignal(wake)
        thread?.join()
    }

    private func run() {
        while true {
            lock.lock()
            let nextDue = periodic.map(\.due).min()
            lock.unlock()
            let now = System.monotonicNanoseconds()
            let timeout = nextDue.map { $0 <= now ? 0 : Int32(min(($0 - now) / 1_000_000 + 1, 60_000)) } ?? 60_000
            if timeout > 0 {
                _ = try? System.waitReadable(wake, timeoutMilliseconds: timeout)
            }
            try? System.eventFileDrain(wake)
            while true {
                lock.lock()
                let batch = pending
                pending = []
                let done = stopped
                lock.unlock()
                for work in batch { work() }
                if batch.isEmpty {
                    if done { return }
                    break
                }
            }
            runDuePeriodicJobs()
        }
    }

    private func runDuePeriodicJobs() {
        let now = System.monotonicNanoseconds()
        var due: [@Sendable () -> Void] = []
        lock.lock()
        for index in periodic.indices where !stopped && periodic[index].due <= now {
            due.append(periodic[index].work)
            periodic[index].due = System.deadline(afterMilliseconds: periodic[index].intervalMilliseconds, from: now)
        }
        lock.unlock()
        for work in due { work() }
    }
}
