// A request waiting for the in-sync replicas of the partitions it appended to (Kafka's
// DelayedProduce): acks=all Produce, and the coordinators' OffsetCommit, which Kafka also
// answers only once its records are replicated. Woken when a high watermark moves, finished
// when each partition is acknowledged, or with REQUEST_TIMED_OUT after the timeout. Lives on
// one event loop.

import KafkaProtocol
import KafkaWire
import Reactor
import Synchronization

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

extension ReplicaManager {
    /// Calls `done` with each partition's outcome once everything appended to it so far is on
    /// its in-sync replicas: NONE, or why not (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT). A
    /// partition of one replica is NONE at once; one another broker leads now (leadership moved
    /// since the write) NOT_LEADER_OR_FOLLOWER. Runs on `loop` (a handler's), or on one of the
    /// broker's loops for a caller off them (the coordinators' threads). As acks=all, the
    /// partition's min.insync.replicas must be in sync (capped at its replicas).
    func whenReplicated(
        _ partitions: [TopicPartition], timeoutMilliseconds: Int32, on loop: EventLoop? = nil,
        _ done: @escaping @Sendable ([ErrorCode]) -> Void
    ) {
        // Read here, before any hop: what must be replicated is what was written before the call.
        let awaited = partitions.map { partition in
            isReplicated(partition)
                ? broker.logs.partition(partition).map { log in
                    ReplicationWait.Awaited(
                        partition: partition, requiredOffset: log.logEndOffset,
                        minimumInSync: log.currentConfiguration.minimumInSyncReplicas)
                }
                : nil
        }
        let unled = partitions.map { broker.leaderEpochHere(of: $0) == nil }
        let replicated = awaited.compactMap { $0 }
        guard !replicated.isEmpty, let loop = loop ?? nextLoop() else {
            return done(unled.map { $0 ? .notLeaderOrFollower : .none })
        }
        let wait = ReplicationWait(
            broker: broker, loop: loop, replicas: self, awaited: replicated, timeoutMilliseconds: timeoutMilliseconds
        ) {
            var outcomes = $0.makeIterator()
            done(
                zip(awaited, unled).map { awaited, unled in
                    awaited == nil ? (unled ? .notLeaderOrFollower : .none) : outcomes.next() ?? .unknownServerError
                })
        }
        if loop.inEventLoop {
            wait.start()
        } else if !loop.execute({ wait.start() }) {
            done(awaited.map { $0 == nil ? .none : .notLeaderOrFollower })  // the loop has stopped
        }
    }

    private func nextLoop() -> EventLoop? {
        loops.isEmpty ? nil : loops[loopTurn.add(1, ordering: .relaxed).oldValue % loops.count]
    }
}
