// The broker's metrics: each event loop's counters, found by loop, and the scrape that asks
// every loop for its copy and sums them, so that the request path takes no lock.

import Reactor
import Synchronization
import SystemCalls

final class BrokerMetrics: Sendable {
    /// `metrics.enabled`: off, no loop counts anything (the benchmark's baseline).
    let enabled: Bool
    let startedAtMilliseconds = System.wallClockMilliseconds()
    private let loops = Mutex<[ObjectIdentifier: ReactorMetrics]>([:])

    init(enabled: Bool) { self.enabled = enabled }

    /// The counters of `loop` (made on first use); nil when metrics are off. Looked up once
    /// per connection.
    func counters(of loop: EventLoop) -> ReactorMetrics? {
        guard enabled else { return nil }
        return loops.withLock { loops in
            if let found = loops[ObjectIdentifier(loop)] { return found }
            let made = ReactorMetrics(eventLoop: loop)
            loops[ObjectIdentifier(loop)] = made
            return made
        }
    }

    /// Request memory held by large requests until answered (the loops share one pool).
    var heldRequestBytes: Int {
        guard let pool = loops.withLock({ $0.values.first?.eventLoop.memory }) else { return 0 }
        return pool.capacity - pool.availableBytes
    }

    /// Asks each loop for its counters and clients, and hands their sum to `completion` on
    /// the thread of the last loop to answer (at once when no loop counted anything). A loop
    /// that has ended, and so cannot answer, is left out.
    func collect(_ completion: @escaping @Sendable (MetricsSnapshot, [ConnectedClient.Description]) -> Void) {
        let counters = loops.withLock { Array($0.values) }
        let gathered = Mutex<(left: Int, sum: MetricsSnapshot, clients: [ConnectedClient.Description])>((counters.count + 1, .init(), []))
        @Sendable func answered(_ snapshot: MetricsSnapshot, _ clients: [ConnectedClient.Description]) {
            let done = gathered.withLock { state -> (MetricsSnapshot, [ConnectedClient.Description])? in
                state.sum.add(snapshot)
                state.clients += clients
                state.left -= 1
                return state.left == 0 ? (state.sum, state.clients) : nil
            }
            if let done { completion(done.0, done.1) }
        }
        for metrics in counters {
            let asked = metrics.eventLoop.execute {
                let (snapshot, clients) = metrics.snapshot()
                answered(snapshot, clients)
            }
            if !asked { answered(MetricsSnapshot(), []) }
        }
        // The caller's own share: the sum cannot complete before every loop has been asked.
        answered(MetricsSnapshot(), [])
    }
}
