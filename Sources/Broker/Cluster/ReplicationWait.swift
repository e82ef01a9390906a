// A request waiting for the in-sync replicas of the partitions it appended to (Kafka's
// DelayedProduce): acks=all Produce, and the coordinators' OffsetCommit, which Kafka also
// answers only once its records are replicated. Woken when a high watermark moves, finished
// when each partition is acknowledged, or with REQUEST_TIMED_OUT after the timeout. Lives on
// one event loop.

import KafkaProtocol
import KafkaWire
import Reactor

final class ReplicationWait: @unchecked Sendable {
    struct Awaited {
        let partition: TopicPartition
        /// The log end after the append: the high watermark must reach it.
        let requiredOffset: Int64
        let minimumInSync: Int32
    }

    // Touched only on `loop`.
    private let broker: Broker
    private let loop: EventLoop
    private let replicas: ReplicaManager
    private let awaited: [Awaited]
    private var outcomes: [ErrorCode?]
    private let partitions: [TopicPartition]
    private let timeoutMilliseconds: Int32
    private let finish: ([ErrorCode]) -> Void
    private var waiterId: UInt64?
    private var timer: UInt64?
    private var done = false

    /// `finish` gets each entry's outcome, in order: NONE, or why it was not acknowledged.
    init(
        broker: Broker, loop: EventLoop, replicas: ReplicaManager, awaited: [Awaited], timeoutMilliseconds: Int32,
        finish: @escaping ([ErrorCode]) -> Void
    ) {
        self.broker = broker
        self.loop = loop
        self.replicas = replicas
        self.awaited = awaited
        outcomes = Array(repeating: nil, count: awaited.count)
        partitions = awaited.map(\.partition)
        self.timeoutMilliseconds = timeoutMilliseconds
        self.finish = finish
    }

    func start() { attempt(timedOut: false) }

    private func attempt(timedOut: Bool) {
        loop.preconditionInEventLoop()
        guard !done else { return }
        let giveUp = timedOut || broker.isShuttingDown
        // Parked before the high watermarks are read, so that a move right after still wakes it.
        if waiterId == nil && !giveUp {
            waiterId = broker.fetchWaiters.park(on: partitions, loop: loop) { [self] in
                waiterId = nil
                attempt(timedOut: false)
            }
        }
        for (index, entry) in awaited.enumerated() where outcomes[index] == nil {
            outcomes[index] =
                replicas.acknowledgement(entry.partition, requiredOffset: entry.requiredOffset, minimumInSyncReplicas: entry.minimumInSync)
                ?? (giveUp ? .requestTimedOut : nil)
        }
        guard outcomes.allSatisfy({ $0 != nil }) else {
            if timer == nil {
                timer = loop.schedule(afterMilliseconds: Int(max(timeoutMilliseconds, 0))) { [self] in
                    timer = nil
                    attempt(timedOut: true)
                }
            }
            return
        }
        done = true
        if let waiterId { broker.fetchWaiters.cancel(waiterId, partitions: partitions) }
        if let timer { loop.cancelTimer(timer) }
        finish(outcomes.map { $0! })
    }
}
