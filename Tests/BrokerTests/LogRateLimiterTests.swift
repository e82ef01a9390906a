// What clients do wrong is logged a few lines per kind and window, then counted.

import Synchronization
import Testing

@testable import Broker

@Suite struct LogRateLimiterTests {
    @Test func aFewLinesPerWindowThenACount() {
        let now = Atomic<Int64>(0)
        let limiter = LogRateLimiter(linesPerWindow: 2, windowMilliseconds: 1_000, clock: { now.load(ordering: .relaxed) })
        #expect(limiter.admit("bad", "one") == "one")
        #expect(limiter.admit("bad", "two") == "two")
        #expect(limiter.admit("bad", "three") == nil)
        #expect(limiter.admit("bad", "four") == nil)
        // Another kind has its own window.
        #expect(limiter.admit("other", "first") == "first")
        now.store(999, ordering: .relaxed)
        #expect(limiter.admit("bad", "five") == nil)
        // The next window's first line says how many were held back.
        now.store(1_000, ordering: .relaxed)
        #expect(limiter.admit("bad", "six") == "six (and 3 more bad line(s) not logged)")
        #expect(limiter.admit("bad", "seven") == "seven")
        #expect(limiter.admit("bad", "eight") == nil)
    }
}
