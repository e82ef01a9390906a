// DeleteTopics (key 20): by name (v1-v5) or by name or id (v6), removing each topic's
// partition logs; readers already holding a segment finish reading it.

import KafkaProtocol
import KafkaWire

struct DeleteTopicsHandler: ApiHandler {
    typealias Request = DeleteTopicsRequest
    let advertised: ClosedRange<Int16> = 1...6

    func runsOnAdminThread(_ request: DeleteTopicsRequest, _ context: RequestContext<DeleteTopicsRequest>) -> Bool { true }

    func handle(_ request: DeleteTopicsRequest, _ context: RequestContext<DeleteTopicsRequest>) {
        let broker = context.broker
        let wanted: [(name: String?, id: Uuid)] =
            context.version >= 6
            ? request.topics.map { ($0.name, $0.topicId) }
            : request.topicNames.map { ($0, Uuid.zero) }
        var response = DeleteTopicsResponse()
        for (name, id) in wanted {
            let topic = name.flatMap { broker.topics.topic(named: $0) } ?? (id.isZero ? nil : broker.topics.topic(id: id))
            var result = DeleteTopicsResponse.DeletableTopicResult(name: name ?? topic?.name, topicId: topic?.topicId ?? id, errorCode: 0)
            if let topic {
                do {
                    try broker.deleteTopic(topic)
                } catch {
                    result.errorCode = ErrorCode.kafkaStorageError.rawValue
                    result.errorMessage = "\(error)"
                }
            } else {
                result.errorCode = (name == nil ? ErrorCode.unknownTopicId : .unknownTopicOrPartition).rawValue
            }
            response.responses.append(result)
        }
        context.send(response)
    }
}
