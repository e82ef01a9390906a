// One thread running closures in the order they came: work that blocks on the disk (creating
// or deleting a topic's files) goes here instead of stalling a reactor's other connections.

public final class WorkQueue: @unchecked Sendable {
    // `lock` guards `pending` and `stopped`.
    private let lock = Lock()
    private var pending: [@Sendable () -> Void] = []
    private var stopped = false
    private let wake: Int32
    private var thread: OSThread?

    public init(name: String) throws(SystemCallError) {
        wake = try System.eventFileDescriptor()
        thread = try OSThread(name: name) { [self] in run() }
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

    /// Runs what is queued, then ends the thread.
    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        try? System.eventFileSignal(wake)
        thread?.join()
    }

    private func run() {
        while true {
            _ = try? System.waitReadable(wake, timeoutMilliseconds: 60_000)
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
        }
    }
}
