// A plain mutex (pthread) whose `withLock` passes a typed error through, where
// Synchronization.Mutex's closure would erase the error type.

import Glibc

public final class Lock: @unchecked Sendable {
    // The pthread mutex is the synchronization itself; it lives at a stable heap address.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held; whatever it throws, the mutex is released.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// For a lock held across calls (a condition wait, a handover between functions); prefer
    /// `withLock` everywhere else.
    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
}
