// A plain mutex (pthread) for state that must be locked across calls with typed throws,
// where a closure-taking lock would erase the error type. Lock, defer unlock.

import Glibc

public final class Lock: @unchecked Sendable {
    // The pthread mutex is the synchronization itself; it lives at a stable heap address.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
}
