// ListPartitionReassignments (key 46): the reassignments in progress, with their replicas and
// those being added and removed (Kafka lists only ongoing ones). On one broker they complete
// at once (see AlterPartitionReassignments), so none ever is.

import KafkaProtocol

struct ListPartitionReassignmentsHandler: ApiHandler {
    typealias Request = ListPartitionReassignmentsRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: ListPartitionReassignmentsRequest, _ context: RequestContext<ListPartitionReassignmentsRequest>) {
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(ListPartitionReassignmentsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, topics: []))
        }
        guard let membership = context.broker.membership else { return context.send(ListPartitionReassignmentsResponse(topics: [])) }
        // Named topics and partitions, or every topic.
        let wanted: [(String, [Int32]?)] =
            request.topics.map { $0.map { ($0.name, Optional($0.partitionIndexes)) } }
            ?? context.broker.topics.all.map { ($0.name, nil) }.sorted { $0.0 < $1.0 }
        var response = ListPartitionReassignmentsResponse(topics: [])
        for (name, indexes) in wanted {
            guard let topic = membership.topic(named: name) else { continue }
            let ongoing = (indexes ?? topic.partitions.indices.map(Int32.init)).compactMap {
                index -> ListPartitionReassignmentsResponse.OngoingPartitionReassignment? in
                guard index >= 0, Int(index) < topic.partitions.count, topic.partitions[Int(index)].isReassigning else { return nil }
                let state = topic.partitions[Int(index)]
                return .init(
                    partitionIndex: index, replicas: state.replicas, addingReplicas: state.addingReplicas,
                    removingReplicas: state.removingReplicas)
            }
            if !ongoing.isEmpty { response.topics.append(.init(name: name, partitions: ongoing)) }
        }
        context.send(response)
    }
}
