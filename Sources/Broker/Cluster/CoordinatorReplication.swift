// The coordinators' writes in a cluster: as Kafka's, a coordinator answers only once what it
// wrote to its internal partition is on that partition's in-sync replicas, so that the
// coordinator elected after a failover finds everything a client was told.

import KafkaProtocol
import KafkaWire
import Reactor

extension Broker {
    /// Kafka's offsets.commit.timeout.ms, also the wait for the transaction log.
    static let coordinatorReplicationTimeoutMilliseconds: Int32 = 5_000

    /// Calls `done` once what was written so far to `partition` (of an internal topic) is
    /// replicated: NONE, or why not in the coordinators' words. At once without a cluster.
    func whenCoordinatorWriteReplicated(
        _ partition: TopicPartition, on loop: EventLoop? = nil, _ done: @escaping @Sendable (ErrorCode) -> Void
    ) {
        whenReplicated([partition], on: loop) { done(Self.coordinatorError(forReplication: $0.first ?? .unknownServerError)) }
    }

    /// Calls `done` with each partition's outcome once what was written so far to it is
    /// replicated (see ReplicaManager.whenReplicated); at once without a cluster.
    func whenReplicated(_ partitions: [TopicPartition], on loop: EventLoop? = nil, _ done: @escaping @Sendable ([ErrorCode]) -> Void) {
        guard let replicas, !partitions.isEmpty else { return done(partitions.map { _ in .none }) }
        replicas.whenReplicated(partitions, timeoutMilliseconds: Self.coordinatorReplicationTimeoutMilliseconds, on: loop, done)
    }

    /// A replication failure as Kafka's coordinators answer it: NOT_COORDINATOR when the
    /// partition's leadership moved (the client looks the coordinator up again), else
    /// COORDINATOR_NOT_AVAILABLE (retried).
    static func coordinatorError(forReplication failure: ErrorCode) -> ErrorCode {
        switch failure {
        case .none: .none
        case .notLeaderOrFollower: .notCoordinator
        default: .coordinatorNotAvailable
        }
    }
}

extension RequestContext {
    /// Sends `response` once the coordinator's writes to `partition` are replicated, else the
    /// answer `refused` makes of the coordinator's error.
    func sendWhenReplicated(
        _ response: Request.Response, coordinatorPartition partition: TopicPartition,
        refused: @escaping @Sendable (ErrorCode) -> Request.Response
    ) {
        broker.whenCoordinatorWriteReplicated(partition, on: eventLoop) { error in
            send(error == .none ? response : refused(error))
        }
    }
}
