// CreatePartitions (key 37): grows a topic's partition count (never shrinks it), with
// manual assignments allowed only onto this broker, and validate_only.

import KafkaProtocol
import LogStorage

struct CreatePartitionsHandler: ApiHandler {
    typealias Request = CreatePartitionsRequest
    let advertised: ClosedRange<Int16> = 0...3

    func runsOnAdminThread(_ request: CreatePartitionsRequest, _ context: RequestContext<CreatePartitionsRequest>) -> Bool { true }

    func handle(_ request: CreatePartitionsRequest, _ context: RequestContext<CreatePartitionsRequest>) {
        let broker = context.broker
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        let newPartitions = request.topics.reduce(0) { total, topic in
            total + max(Int(topic.count) - Int(broker.topics.topic(named: topic.name)?.partitions ?? topic.count), 0)
        }
        var response = CreatePartitionsResponse()
        for topic in request.topics {
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult(name: topic.name, errorCode: 0)
            func fail(_ error: ErrorCode, _ message: String) {
                result.errorCode = error.rawValue
                result.errorMessage = message
            }
            if newPartitions > Broker.maximumRecordsPerRequest {
                fail(.policyViolation, "Unable to perform excessively large batch operation.")
            } else if counts[topic.name]! > 1 {
                fail(.invalidRequest, "Duplicate topic in request.")
            } else if !context.authorized(.alter, .topic, topic.name) {
                fail(.topicAuthorizationFailed, "Authorization failed.")
            } else if let info = broker.topics.topic(named: topic.name) {
                if topic.count < info.partitions {
                    fail(
                        .invalidPartitions,
                        "Topic currently has \(info.partitions) partitions, which is higher than the requested \(topic.count).")
                } else if topic.count == info.partitions {
                    fail(.invalidPartitions, "Topic already has \(info.partitions) partitions.")
                } else if let assignments = topic.assignments,
                    assignments.count != Int(topic.count - info.partitions)
                        || assignments.contains(where: { assignment in
                            assignment.brokerIds.isEmpty || Set(assignment.brokerIds).count != assignment.brokerIds.count
                                || !assignment.brokerIds.allSatisfy(broker.liveBrokerIds.contains)
                        })
                {
                    fail(
                        .invalidReplicaAssignment,
                        "Each new partition's assignment must name distinct live brokers (\(broker.liveBrokerIds.map(String.init).joined(separator: ", ")))."
                    )
                } else if !request.validateOnly {
                    // controller_mutation_rate (KIP-599): each new partition is a mutation.
                    let quota = context.recordMutations(Int(topic.count - info.partitions), strictSince: 3)
                    response.throttleTimeMs = max(response.throttleTimeMs, quota.throttleMilliseconds)
                    if !quota.admitted {
                        fail(.throttlingQuotaExceeded, "The throttling quota has been exceeded.")
                    } else {
                        do {
                            try broker.addPartitions(to: info, count: topic.count, assignment: topic.assignments?.map(\.brokerIds) ?? [])
                        } catch {
                            fail(Broker.errorCode(forChangeFailure: error), "\(error)")
                        }
                    }
                }
            } else {
                fail(.unknownTopicOrPartition, "This server does not host this topic-partition.")
            }
            response.results.append(result)
        }
        context.send(response)
    }
}
