// ListPartitionReassignments (key 46): reassignments on one broker complete at once (see
// AlterPartitionReassignments), so none is ever in progress; Kafka lists only ongoing ones.

import KafkaProtocol

struct ListPartitionReassignmentsHandler: ApiHandler {
    let apiKey = ApiKey.listPartitionReassignments
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ context: RequestContext) {
        context.send(ListPartitionReassignmentsResponse(topics: []))
    }
}
