// Waiting on a condition instead of sleeping a guessed time: returns as soon as it holds,
// and a slow machine only makes the wait longer, never the test wrong.

import Glibc
import SystemCalls

/// Polls `condition` every millisecond until it holds or `timeoutMilliseconds` pass;
/// returns whether it held.
public func waitUntil(timeoutMilliseconds: Int = 10_000, _ condition: () -> Bool) -> Bool {
    let deadline = System.monotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
    while !condition() {
        if System.monotonicNanoseconds() >= deadline { return false }
        usleep(1_000)
    }
    return true
}
