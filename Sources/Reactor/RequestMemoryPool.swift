// Kafka's queued.max.request.bytes: a request larger than one read is given its memory from
// one pool shared by every connection before its bytes are kept, and holds it until its
// response is sent. A connection whose request does not fit stops reading (muted, as Kafka
// mutes the channel) until a response gives memory back, so what clients send cannot grow
// the broker past the pool; small requests never wait.

import Synchronization

public final class RequestMemoryPool: Sendable {
    public let capacity: Int
    private let state: Mutex<(available: Int, waiters: [@Sendable () -> Void])>

    public init(capacity: Int) {
        self.capacity = capacity
        state = Mutex((capacity, []))
    }

    public var availableBytes: Int { state.withLock { $0.available } }

    /// Takes `bytes` when any memory is left. As Kafka's (non-strict) pool, the last grant may
    /// overdraw it: a request larger than the whole pool is still served, alone.
    func tryReserve(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard state.available > 0 else { return false }
            state.available -= bytes
            return true
        }
    }

    /// Gives `bytes` back and wakes whoever waited for memory (each tries again).
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let woken = state.withLock { state -> [@Sendable () -> Void] in
            state.available += bytes
            guard state.available > 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in woken { waiter() }
    }

    /// Calls `waiter` once memory is available: now, or after a release.
    func whenAvailable(_ waiter: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.available > 0 { return true }
            state.waiters.append(waiter)
            return false
        }
        if now { waiter() }
    }
}
