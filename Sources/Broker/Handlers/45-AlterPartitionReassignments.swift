// AlterPartitionReassignments (key 45): a single broker can only be reassigned onto itself,
// which changes nothing; Kafka's controller checks (empty list, unknown or repeated broker,
// cancelling with nothing in progress) answer everything else.

import KafkaProtocol

struct AlterPartitionReassignmentsHandler: ApiHandler {
    typealias Request = AlterPartitionReassignmentsRequest
    let advertised: ClosedRange<Int16> = 0...1

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
                            let (error, message) = Self.check(
                                partition, topic: topic.name, partitionCount: partitionCount,
                                nodeId: broker.configuration.nodeId)
                            return .init(partitionIndex: partition.partitionIndex, errorCode: error.rawValue, errorMessage: message)
                        })
                }))
    }

    private static func check(
        _ target: AlterPartitionReassignmentsRequest.ReassignablePartition, topic: String,
        partitionCount: Int32?, nodeId: Int32
    ) -> (ErrorCode, String?) {
        guard let partitionCount else { return (.unknownTopicOrPartition, "Unable to find a topic named \(topic).") }
        guard target.partitionIndex >= 0 && target.partitionIndex < partitionCount else {
            return (.unknownTopicOrPartition, "Unable to find partition \(topic):\(target.partitionIndex).")
        }
        // Null replicas cancel a reassignment; none is ever in progress here.
        guard let replicas = target.replicas else {
            return (.noReassignmentInProgress, "No partition reassignment is in progress.")
        }
        if replicas.isEmpty {
            return (.invalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
        }
        var previous: Int32?
        for brokerId in replicas.sorted() {
            if brokerId != nodeId {
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
