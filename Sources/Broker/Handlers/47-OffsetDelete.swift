// OffsetDelete (key 47): drops a group's committed offsets for topics it no longer
// consumes; a subscribed topic answers GROUP_SUBSCRIBED_TO_TOPIC.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct OffsetDeleteHandler: ApiHandler {
    typealias Request = OffsetDeleteRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: OffsetDeleteRequest, _ context: RequestContext<OffsetDeleteRequest>) {
        guard context.authorized(.delete, .group, request.groupId) else {
            return context.send(OffsetDeleteResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(OffsetDeleteResponse(errorCode: ErrorCode.notCoordinator.rawValue))
        }
        // READ on each topic (Kafka answers the others TOPIC_AUTHORIZATION_FAILED).
        let denied = Set(request.topics.map(\.name).filter { !context.authorized(.read, .topic, $0) })
        let partitions = request.topics.filter { !denied.contains($0.name) }.flatMap { topic in
            topic.partitions.map { TopicPartition(topic: topic.name, partition: $0.partitionIndex) }
        }
        let (error, results) = context.broker.groups.deleteOffsets(groupId: request.groupId, partitions: partitions)
        var response = OffsetDeleteResponse(errorCode: error.rawValue)
        if error == .none {
            var remaining = results.makeIterator()
            response.topics = request.topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map {
                        let error = denied.contains(topic.name) ? .topicAuthorizationFailed : remaining.next() ?? .unknownServerError
                        return .init(partitionIndex: $0.partitionIndex, errorCode: error.rawValue)
                    })
            }
        }
        guard error == .none else { return context.send(response) }
        context.sendWhenReplicated(response, coordinatorPartition: context.broker.offsetsPartition(of: request.groupId)) {
            OffsetDeleteResponse(errorCode: $0.rawValue)
        }
    }
}
