// AlterPartitionReassignments (key 45): a single broker can only be reassigned onto itself,
// which changes nothing. In a cluster the target replicas are added to the partition's
// (catching up as followers) and the others removed once every added one is in sync, which
// the controller completes. Kafka's controller checks (empty list, unknown or repeated
// broker, a replication factor change not allowed, cancelling with nothing in progress)
// answer everything else.

import KafkaProtocol
import KafkaWire

struct AlterPartitionReassignmentsHandler: ApiHandler {
    typealias Request = AlterPartitionReassignmentsRequest
    let advertised: ClosedRange<Int16> = 0...1

    /// A cluster's reassignments wait for the metadata store.
    func runsOnAdminThread(
        _ request: AlterPartitionReassignmentsRequest, _ context: RequestContext<AlterPartitionReassignmentsRequest>
    ) -> Bool {
        context.broker.membership != nil
    }

    func handle(_ request: AlterPartitionReassignmentsRequest, _ context: RequestContext<AlterPartitionReassignmentsRequest>) {
        let broker = context.broker
        guard context.authorized(.alter, .cluster, clusterResourceName) else {
            return context.send(
                AlterPartitionReassignmentsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, responses: []))
        }
        context.send(
            AlterPartitionReassignmentsResponse(
                allowReplicationFactorChange: request.allowReplicationFactorChange,
                responses: request.topics.map { topic in
                    let partitionCount = broker.topics.topic(named: topic.name)?.partitions
                    return .init(
                        name: topic.name,
                        partitions: topic.partitions.map { partition in
                            let name = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                            var (error, message) = Self.check(
                                partition, topic: topic.name, partitionCount: partitionCount,
                                brokers: Set(broker.liveBrokerIds),
                                replicationFactor: broker.membership?.partition(name.topic, name.partition)
                                    .map { Int($0.replicas.count - $0.addingReplicas.count) } ?? 1,
                                allowReplicationFactorChange: request.allowReplicationFactorChange)
                            if error == .none, let membership = broker.membership {
                                (error, message) = broker.reassign(name, to: partition.replicas, in: membership)
                            } else if error == .none && partition.replicas == nil {
                                (error, message) = (.noReassignmentInProgress, "No partition reassignment is in progress.")
                            }
                            return .init(partitionIndex: partition.partitionIndex, errorCode: error.rawValue, errorMessage: message)
                        })
                }))
    }

    /// The request's own checks, before any state is read: the partition exists, the target
    /// names live brokers once each, and keeps the replication factor unless allowed to change
    /// it (KIP-860). Null replicas (a cancellation) pass.
    private static func check(
        _ target: AlterPartitionReassignmentsRequest.ReassignablePartition, topic: String,
        partitionCount: Int32?, brokers: Set<Int32>, replicationFactor: Int, allowReplicationFactorChange: Bool
    ) -> (ErrorCode, String?) {
        guard let partitionCount else { return (.unknownTopicOrPartition, "Unable to find a topic named \(topic).") }
        guard target.partitionIndex >= 0 && target.partitionIndex < partitionCount else {
            return (.unknownTopicOrPartition, "Unable to find partition \(topic):\(target.partitionIndex).")
        }
        guard let replicas = target.replicas else { return (.none, nil) }
        if !allowReplicationFactorChange && replicas.count != replicationFactor {
            return (
                .invalidReplicationFactor,
                "The replication factor is changed from \(replicationFactor) to \(replicas.count) but allowReplicationFactorChange is false."
            )
        }
        if replicas.isEmpty {
            return (.invalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
        }
        var previous: Int32?
        for brokerId in replicas.sorted() {
            if !brokers.contains(brokerId) {
                return (
                    .invalidReplicaAssignment,
                    "The manual partition assignment includes broker \(brokerId), but no such broker is registered."
                )
            }
            if brokerId == previous {
                return (.invalidReplicaAssignment, "The manual partition assignment includes the broker \(brokerId) more than once.")
            }
            previous = brokerId
        }
        return (.none, nil)
    }
}
