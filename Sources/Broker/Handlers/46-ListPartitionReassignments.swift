// ListPartitionReassignments (key 46): reassignments on one broker complete at once (see
// AlterPartitionReassignments), so none is ever in progress; Kafka lists only ongoing ones.

import KafkaProtocol

struct ListPartitionReassignmentsHandler: ApiHandler {
    typealias Request = ListPartitionReassignmentsRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: ListPartitionReassignmentsRequest, _ context: RequestContext<ListPartitionReassignmentsRequest>) {
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(ListPartitionReassignmentsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, topics: []))
        }
        context.send(ListPartitionReassignmentsResponse(topics: []))
    }
}
