// fsync off the reactor threads. Appends that must reach the disk before they are
// acknowledged (FlushPolicy.everyAppend) wait here; one thread syncs each partition once for
// every waiter that piled up meanwhile (group commit), then calls their completions.

import SystemCalls

final class SyncQueue: @unchecked Sendable {
    private struct Waiter {
        let log: PartitionLog
        let completion: @Sendable (LogError?) -> Void
    }

    // `lock` guards `pending`, `draining` and `stopped`.
    private let lock = Lock()
    private var pending: [Waiter] = []
    /// A drain is queued or running: later waiters join its next round.
    private var draining = false
    private var stopped = false
    private let thread: WorkQueue

    init() throws(SystemCallError) {
        thread = try WorkQueue(name: "swiftlet-fsync")
    }

    func enqueue(_ log: PartitionLog, completion: @escaping @Sendable (LogError?) -> Void) {
        // nil: the queue has stopped.
        let schedule: Bool? = lock.withLock {
            if stopped { return nil }
            pending.append(Waiter(log: log, completion: completion))
            defer { draining = true }
            return !draining
        }
        switch schedule {
        case nil: completion(.io(SystemCallError(call: "fsync queue (shut down)", errno: 108)))  // ESHUTDOWN
        case true?: thread.execute { [self] in drain() }
        case false?: break
        }
    }

    /// Syncs what is queued, then ends the thread.
    func stop() {
        lock.withLock { stopped = true }
        thread.stop()
    }

    /// Rounds until nothing is pending: each round syncs every partition waited on once.
    private func drain() {
        while true {
            let batch = lock.withLock {
                defer { pending = [] }
                if pending.isEmpty { draining = false }
                return pending
            }
            if batch.isEmpty { return }
            var results: [ObjectIdentifier: LogError?] = [:]
            for waiter in batch {
                let key = ObjectIdentifier(waiter.log)
                if results[key] == nil {
                    do {
                        try waiter.log.flush()
                        results[key] = .some(nil)
                    } catch {
                        results[key] = .some(error)
                    }
                }
                waiter.completion(results[key] ?? nil)
            }
        }
    }
}
