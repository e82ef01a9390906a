// FindCoordinator (key 10): the broker that coordinates a group or transactional id: this
// one, or in a cluster the leader of the key's partition of __consumer_offsets or
// __transaction_state. v4+ asks for several keys at once. Looking up a group creates
// __consumer_offsets, as Kafka does, so that it exists before the first commit (in a
// cluster __transaction_state too, whose leaders place the transaction coordinators).

import Coordinators
import KafkaProtocol
import KafkaWire

struct FindCoordinatorHandler: ApiHandler {
    typealias Request = FindCoordinatorRequest
    /// Kafka 4.x advertises v0 (librdkafka before 2.11 gates lz4 on it).
    let advertised: ClosedRange<Int16> = 0...6

    /// CoordinatorType: 0 group, 1 transaction, 2 share.
    private static let groupKeyType: Int8 = 0
    private static let transactionKeyType: Int8 = 1

    /// The first group lookup creates __consumer_offsets (50 partitions of files).
    func runsOnAdminThread(_ request: FindCoordinatorRequest, _ context: RequestContext<FindCoordinatorRequest>) -> Bool {
        let topics = context.broker.topics
        return request.keyType == Self.groupKeyType
            ? topics.topic(named: OffsetsTopic.name) == nil
            : request.keyType == Self.transactionKeyType && context.broker.membership != nil
                && topics.topic(named: TransactionCoordinator.stateTopic) == nil
    }

    func handle(_ request: FindCoordinatorRequest, _ context: RequestContext<FindCoordinatorRequest>) {
        let broker = context.broker
        let (error, message) = check(keyType: request.keyType, broker: broker)
        /// DESCRIBE on the group or transactional id, as Kafka checks each key.
        func authorized(_ key: String) -> (ErrorCode, String?)? {
            let (resource, refusal): (ResourceType, ErrorCode) =
                request.keyType == Self.transactionKeyType
                ? (.transactionalId, .transactionalIdAuthorizationFailed) : (.group, .groupAuthorizationFailed)
            return context.authorized(.describe, resource, key) ? nil : (refusal, nil)
        }
        /// The coordinator of `key`, or why there is none.
        func find(_ key: String) -> FindCoordinatorResponse.Coordinator {
            var (error, message) = error == .none ? authorized(key) ?? (error, message) : (error, message)
            var found: (nodeId: Int32, host: String, port: Int32)?
            if error == .none {
                found = coordinator(of: key, keyType: request.keyType, context: context)
                if found == nil { (error, message) = (.coordinatorNotAvailable, "The coordinator is not available.") }
            }
            return FindCoordinatorResponse.Coordinator(
                key: key, nodeId: found?.nodeId ?? -1, host: found?.host ?? "", port: found?.port ?? -1,
                errorCode: error.rawValue, errorMessage: message)
        }
        var response = FindCoordinatorResponse()
        if context.version >= 4 {
            response.coordinators = request.coordinatorKeys.map(find)
        } else {
            let coordinator = find(request.key)
            response.errorCode = coordinator.errorCode
            response.errorMessage = coordinator.errorMessage
            response.nodeId = coordinator.nodeId
            response.host = coordinator.host
            response.port = coordinator.port
        }
        context.send(response)
    }

    /// This broker, or in a cluster the live leader of the key's partition of its internal
    /// topic (nil while that partition has none).
    private func coordinator(of key: String, keyType: Int8, context: RequestContext<FindCoordinatorRequest>) -> (
        nodeId: Int32, host: String, port: Int32
    )? {
        let broker = context.broker
        let (host, port) = broker.advertised(listener: context.listener)
        guard let membership = broker.membership else { return (broker.configuration.nodeId, host, port) }
        let partition =
            keyType == Self.groupKeyType
            ? broker.offsetsPartition(of: key)
            : broker.transactionStatePartition(of: key)
        guard let state = membership.partition(partition.topic, partition.partition) else { return nil }
        if state.leader == broker.configuration.nodeId { return (broker.configuration.nodeId, host, port) }
        let leader = broker.currentLeader(state, listener: context.listener)
        return leader.endpoint.map { (leader.id, $0.host, $0.port) }
    }

    private func check(keyType: Int8, broker: Broker) -> (ErrorCode, String?) {
        switch keyType {
        case Self.groupKeyType:
            return ensure(broker.offsetsTopic, broker: broker)
        case Self.transactionKeyType:
            return broker.membership == nil ? (.none, nil) : ensure(broker.transactionTopic, broker: broker)
        default:
            return (.invalidRequest, "Unsupported coordinator key type \(keyType).")
        }
    }

    /// The internal topic that places the coordinators, created when missing.
    private func ensure(_ topic: InternalTopicLog, broker: Broker) -> (ErrorCode, String?) {
        do {
            try topic.ensureTopic()
            return (.none, nil)
        } catch {
            broker.log("cannot create \(topic.name): \(error)")
            return (.coordinatorNotAvailable, "The coordinator is not available.")
        }
    }
}
