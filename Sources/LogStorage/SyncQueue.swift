// fsync off the reactor threads. Appends that must reach the disk before they are
// acknowledged (FlushPolicy.everyAppend) wait here; one thread syncs each partition once for
// every waiter that piled up meanwhile (group commit), then calls their completions.

import SystemCalls

final class SyncQueue: @unchecked Sendable {
    private struct Waiter {
        let log: PartitionLog
        let completion: @Sendable (LogError?) -> Void
    }

    // `lock` guards `pending` and `stopped`.
    private let lock = Lock()
    private var pending: [Waiter] = []
    private var stopped = false
    private let wake: Int32
    private var thread: OSThread?

    init() throws(SystemCallError) {
        wake = try System.eventFileDescriptor()
        thread = try OSThread(name: "swiftlet-fsync") { [self] in run() }
    }

    deinit { System.close(wake) }

    func enqueue(_ log: PartitionLog, completion: @escaping @Sendable (LogError?) -> Void) {
        lock.lock()
        let accepted = !stopped
        if accepted { pending.append(Waiter(log: log, completion: completion)) }
        lock.unlock()
        if accepted {
            try? System.eventFileSignal(wake)
        } else {
            completion(.io(SystemCallError(call: "fsync queue (shut down)", errno: 108)))  // ESHUTDOWN
        }
    }

    /// Syncs what is queued, then ends the thread.
    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        try? System.eventFileSignal(wake)
        thread?.join()
    }

    private func run() {
        while true {
            _ = try? System.waitReadable(wake, timeoutMilliseconds: 1_000)
            try? System.eventFileDrain(wake)
            lock.lock()
            let batch = pending
            pending = []
            let done = stopped
            lock.unlock()
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
            if done && batch.isEmpty { return }
        }
    }
}
