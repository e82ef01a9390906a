// Failed log writes (a full disk, an I/O error) logged once per episode: the first failure
// with its error, then, once a write succeeds again, how many failed meanwhile. A full disk
// under load would otherwise log a line per produce request, on the disk that is full.

import Logging
import Synchronization

final class StorageFailures: Sendable {
    private let failing = Atomic(false)
    private let failures = Mutex(0)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func failed(_ what: String, _ error: any Error) {
        let first = failures.withLock { count in
            count += 1
            return count == 1
        }
        guard first else { return }
        failing.store(true, ordering: .releasing)
        logger.error("\(what) failed: \(error); later failures are counted until a write succeeds again")
    }

    /// Called after every successful write: one atomic load unless an episode is open.
    func succeeded(_ what: String) {
        guard failing.load(ordering: .relaxed) else { return }
        let count = failures.withLock { count in
            defer { count = 0 }
            return count
        }
        guard count > 0 else { return }
        failing.store(false, ordering: .releasing)
        logger.warning("\(what) succeeded again after \(count) failed write(s)")
    }
}
