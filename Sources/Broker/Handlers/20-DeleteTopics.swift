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
        // Found one by one, then deleted together (one write of the registry).
        var found: [(index: Int, topic: TopicInfo)] = []
        var times: [String: Int] = [:]
        for (name, id) in wanted { times[name ?? id.description, default: 0] += 1 }
        for (name, id) in wanted {
            let topic = name.flatMap { broker.topics.topic(named: $0) } ?? (id.isZero ? nil : broker.topics.topic(id: id))
            var result = DeleteTopicsResponse.DeletableTopicResult(name: name ?? topic?.name, topicId: topic?.topicId ?? id, errorCode: 0)
            if times[name ?? id.description]! > 1 {
                // Kafka's ControllerApis refuses every occurrence of a name or id given twice.
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = name == nil ? "Duplicate topic id." : "Duplicate topic name."
            } else if (topic != nil || name != nil) && !context.authorized(.describe, .topic, topic?.name ?? name ?? "") {
                // Kafka checks DESCRIBE first: a principal that may not see the topic learns
                // neither whether it exists nor, by id, its name.
                result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                if name == nil { result.name = nil }
            } else if let topic, !context.authorized(.delete, .topic, topic.name) {
                result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            } else if let topic {
                // controller_mutation_rate (KIP-599): each partition is a mutation.
                let quota = context.recordMutations(Int(topic.partitions), strictSince: 5)
                response.throttleTimeMs = max(response.throttleTimeMs, quota.throttleMilliseconds)
                if quota.admitted {
                    found.append((response.responses.count, topic))
                } else {
                    result.errorCode = ErrorCode.throttlingQuotaExceeded.rawValue
                    result.errorMessage = "The throttling quota has been exceeded."
                }
            } else {
                result.errorCode = (name == nil ? ErrorCode.unknownTopicId : .unknownTopicOrPartition).rawValue
            }
            response.responses.append(result)
        }
        do {
            try broker.deleteTopics(found.map(\.topic))
        } catch {
            for (index, _) in found {
                response.responses[index].errorCode = Broker.errorCode(forChangeFailure: error).rawValue
                response.responses[index].errorMessage = "\(error)"
            }
        }
        context.send(response)
    }
}
