// WorkQueue: closures run in order on its own thread; stop runs what is queued first, and
// work handed over after stop runs on the caller's thread.

import Synchronization
import SystemCalls
import Testing

@Suite struct WorkQueueTests {
    @Test func runsInOrderOnItsThreadAndDrainsOnStop() throws {
        let queue = try WorkQueue(name: "test-work")
        let seen = Mutex<[(Int, Int32)]>([])
        let gate = Lock()
        gate.lock()
        queue.execute { gate.lock(); gate.unlock() }  // holds the thread while more piles up
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
}
