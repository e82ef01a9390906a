// A Mutex in a class, for state shared by reference (Synchronization.Mutex is a
// non-copyable value that cannot be stored in a struct that is copied around).

import Synchronization

final class MutexBox<Value>: @unchecked Sendable {
    // All access goes through `mutex`.
    private let mutex: Mutex<Value>

    init(_ value: sending Value) { mutex = Mutex(value) }

    func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock(body)
    }
}
