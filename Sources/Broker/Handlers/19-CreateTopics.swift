// CreateTopics (key 19): validates names, partition counts, replication factor (up to the
// live brokers, -1 for the default of 1), manual replica assignments against the live
// brokers and configs, optionally only validating, then creates the topic and its partition
// logs (in a cluster, through the metadata store).

import KafkaProtocol
import LogStorage

struct CreateTopicsHandler: ApiHandler {
    typealias Request = CreateTopicsRequest
    let advertised: ClosedRange<Int16> = 2...7

    func runsOnAdminThread(_ request: CreateTopicsRequest, _ context: RequestContext<CreateTopicsRequest>) -> Bool { true }

    func handle(_ request: CreateTopicsRequest, _ context: RequestContext<CreateTopicsRequest>) {
        let broker = context.broker
        var response = CreateTopicsResponse()
        var seen: [String: Int] = [:]
        for topic in request.topics { seen[topic.name, default: 0] += 1 }
        func partitionCount(_ topic: CreateTopicsRequest.CreatableTopic) -> Int32 {
            topic.numPartitions == -1
                ? (topic.assignments.isEmpty ? broker.configuration.defaultPartitions : Int32(topic.assignments.count))
                : topic.numPartitions
        }
        // Kafka's controller writes a record per topic and per partition, 10,000 at most.
        let records = request.topics.reduce(0) { $0 + 1 + max(Int(partitionCount($1)), 0) }
        // Checked one by one, then created together (one write of the registry).
        var creations: [(index: Int, creation: TopicCreation)] = []
        let brokers = broker.liveBrokerIds
        for topic in request.topics {
            var result = CreateTopicsResponse.CreatableTopicResult(name: topic.name, errorCode: 0)
            func fail(_ error: ErrorCode, _ message: String) {
                result.errorCode = error.rawValue
                result.errorMessage = message
            }
            let partitions = partitionCount(topic)
            var configs: [String: String] = [:]
            for config in topic.configs { if let value = config.value { configs[config.name] = value } }
            if records > Broker.maximumRecordsPerRequest {
                fail(.policyViolation, "Unable to perform excessively large batch operation.")
            } else if seen[topic.name]! > 1 {
                fail(.invalidRequest, "Create topics request from client contains the topic \(topic.name) more than once")
            } else if !context.authorized(.create, .cluster, clusterResourceName, logIfDenied: false)
                && !context.authorized(.create, .topic, topic.name)
            {
                fail(.topicAuthorizationFailed, "Authorization failed.")
            } else if let problem = TopicRegistry.validate(topic.name) {
                fail(.invalidTopicException, "Invalid topic name \(topic.name): \(problem)")
            } else if broker.topics.topic(named: topic.name) != nil {
                fail(.topicAlreadyExists, "Topic '\(topic.name)' already exists.")
            } else if case .failure(let invalid) = TopicConfigs.apply(configs, to: broker.configuration.topicDefaults) {
                // Kafka checks a topic's configs before its partitions and replicas.
                fail(.invalidConfig, invalid.description)
            } else if let (error, message) = Self.assignmentError(topic, brokers: brokers) {
                fail(error, message)
            } else if partitions <= 0 {
                fail(.invalidPartitions, "Number of partitions must be larger than 0.")
            } else if case let replicationFactor =
                topic.replicationFactor == -1 ? broker.configuration.defaultReplicationFactor : topic.replicationFactor,
                topic.assignments.isEmpty && (replicationFactor <= 0 || Int(replicationFactor) > brokers.count)
            {
                fail(
                    .invalidReplicationFactor,
                    replicationFactor <= 0
                        ? "Replication factor must be larger than 0, or -1 to use the default value."
                        : "Unable to replicate the partition \(replicationFactor) time(s): The target replication factor of \(replicationFactor) cannot be reached because only \(brokers.count) broker(s) are registered."
                )
            } else if !request.validateOnly {
                // controller_mutation_rate (KIP-599): each partition is a mutation.
                let quota = context.recordMutations(Int(partitions), strictSince: 6)
                response.throttleTimeMs = max(response.throttleTimeMs, quota.throttleMilliseconds)
                if quota.admitted {
                    creations.append(
                        (
                            response.topics.count,
                            TopicCreation(
                                name: topic.name, partitions: partitions, configs: configs, replicationFactor: topic.replicationFactor,
                                assignment: topic.assignments.sorted { $0.partitionIndex < $1.partitionIndex }.map(\.brokerIds))
                        ))
                } else {
                    fail(.throttlingQuotaExceeded, "The throttling quota has been exceeded.")
                }
            }
            if result.errorCode == 0 {
                result.numPartitions = partitions
                result.replicationFactor =
                    topic.assignments.first.map { Int16($0.brokerIds.count) }
                    ?? (topic.replicationFactor == -1 ? broker.configuration.defaultReplicationFactor : topic.replicationFactor)
                result.configs = configs.sorted { $0.key < $1.key }.map {
                    .init(name: $0.key, value: $0.value, readOnly: false, configSource: 1, isSensitive: false)
                }
            }
            response.topics.append(result)
        }
        let outcomes = broker.createTopics(creations.map(\.creation))
        for (creation, outcome) in zip(creations, outcomes) {
            var result = response.topics[creation.index]
            switch outcome {
            case .success(let created):
                result.topicId = created.topicId
            case .failure(let error):
                let (code, message): (ErrorCode, String) =
                    if case BrokerError.topicExists = error {
                        (.topicAlreadyExists, "Topic '\(creation.creation.name)' already exists.")
                    } else {
                        (Broker.errorCode(forChangeFailure: error), "\(error)")
                    }
                result = .init(name: creation.creation.name, errorCode: code.rawValue, errorMessage: message)
            }
            response.topics[creation.index] = result
        }
        context.send(response)
    }

    /// A manual replica assignment checked as Kafka's controller checks it
    /// (ReplicationControlManager.createTopic), in its order and with its messages, against
    /// the live `brokers`. Nil when there is none, or it is sound.
    static func assignmentError(_ topic: CreateTopicsRequest.CreatableTopic, brokers: [Int32]) -> (ErrorCode, String)? {
        guard !topic.assignments.isEmpty else { return nil }
        if topic.replicationFactor != -1 {
            return (.invalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1.")
        }
        if topic.numPartitions != -1 {
            return (.invalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.")
        }
        let prefix = "The manual partition assignment includes"
        var partitions: Set<Int32> = []
        var replicationFactor: Int?
        for assignment in topic.assignments {
            guard partitions.insert(assignment.partitionIndex).inserted else {
                return (.invalidReplicaAssignment, "Found multiple manual partition assignments for partition \(assignment.partitionIndex)")
            }
            if assignment.brokerIds.isEmpty { return (.invalidReplicaAssignment, "\(prefix) an empty replica list.") }
            var previous: Int32?
            for brokerId in assignment.brokerIds.sorted() {
                if !brokers.contains(brokerId) {
                    return (.invalidReplicaAssignment, "\(prefix) broker \(brokerId), but no such broker is registered.")
                }
                if brokerId == previous { return (.invalidReplicaAssignment, "\(prefix) the broker \(brokerId) more than once.") }
                previous = brokerId
            }
            if let replicationFactor, replicationFactor != assignment.brokerIds.count {
                return (
                    .invalidReplicaAssignment,
                    "\(prefix) a partition with \(assignment.brokerIds.count) replica(s), but this is not consistent with previous partitions, which have \(replicationFactor) replica(s)."
                )
            }
            replicationFactor = assignment.brokerIds.count
        }
        if partitions != Set(0..<Int32(partitions.count)) {
            return (.invalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
        }
        return nil
    }
}
