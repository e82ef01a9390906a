// WorkQueue: closures run in order on its own thread, periodic jobs at their interval; stop
// runs what is queued first, and work handed over after stop runs on the caller's thread.

import Glibc
import Synchronization
import SystemCalls
import Testing

@Suite struct WorkQueueTests {
    @Test func runsInOrderOnItsThreadAndDrainsOnStop() throws {
        let queue = try WorkQueue(name: "test-work")
        let seen = Mutex<[(Int, Int32)]>([])
        let gate = Lock()
        gate.lock()
        queue.execute {
            gate.lock()
            gate.unlock()
        }  // holds the thread while more piles up
        for index in 0..<100 {
            queue.execute { seen.withLock { $0.append((index, System.currentThreadId())) } }
        }
        gate.unlock()
        queue.stop()
        let runs = seen.withLock { $0 }
        #expect(runs.map(\.0) == Array(0..<100))
        #expect(Set(runs.map(\.1)).count == 1 && runs[0].1 != System.currentThreadId())
        // Stopped: the caller runs it.
        let inline = Mutex<Int32>(0)
        queue.execute { inline.withLock { $0 = System.currentThreadId() } }
        #expect(inline.withLock { $0 } == System.currentThreadId())
    }

    /// Periodic jobs run on the queue's thread at their interval, between queued work, and
    /// not after stop.
    @Test func periodicJobsRunAtTheirIntervalUntilStop() throws {
        let queue = try WorkQueue(name: "test-periodic")
        let fast = Mutex<[UInt64]>([])
        let slow = Mutex<Int>(0)
        let threads = Mutex<Set<Int32>>([])
        queue.every(milliseconds: 10) {
            fast.withLock { $0.append(System.monotonicNanoseconds()) }
            threads.withLock { _ = $0.insert(System.currentThreadId()) }
        }
        queue.every(milliseconds: 10_000) { slow.withLock { $0 += 1 } }
        let start = System.monotonicNanoseconds()
        while fast.withLock({ $0.count }) < 10 && System.monotonicNanoseconds() - start < 5_000_000_000 {
            queue.execute { threads.withLock { _ = $0.insert(System.currentThreadId()) } }
            usleep(5_000)
        }
        queue.stop()
        let runs = fast.withLock { $0 }
        #expect(runs.count >= 10)
        #expect(zip(runs, runs.dropFirst()).allSatisfy { $1 - $0 >= 9_000_000 }, "never sooner than the interval")
        #expect(runs.first! - start >= 9_000_000, "the first run waits one interval")
        #expect(slow.withLock { $0 } == 0)
        #expect(threads.withLock { $0 }.count == 1 && !threads.withLock { $0 }.contains(System.currentThreadId()))
        let stoppedAt = fast.withLock { $0.count }
        usleep(50_000)
        #expect(fast.withLock { $0.count } == stoppedAt)
    }
}
