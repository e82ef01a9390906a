// FindCoordinator (key 10): this broker coordinates every group and transactional id.
// v4+ asks for several keys at once. Looking up a group creates __consumer_offsets, as
// Kafka does, so that it exists before the first commit.

import Coordinators
import KafkaProtocol

struct FindCoordinatorHandler: ApiHandler {
    typealias Request = FindCoordinatorRequest
    /// Kafka 4.x advertises v0 (librdkafka before 2.11 gates lz4 on it).
    let advertised: ClosedRange<Int16> = 0...6

    /// CoordinatorType: 0 group, 1 transaction, 2 share.
    private static let groupKeyType: Int8 = 0
    private static let transactionKeyType: Int8 = 1

    /// The first group lookup creates __consumer_offsets (50 partitions of files).
    func runsOnAdminThread(_ request: FindCoordinatorRequest, _ context: RequestContext<FindCoordinatorRequest>) -> Bool {
        request.keyType == Self.groupKeyType
            && context.broker.topics.topic(named: OffsetsTopic.name) == nil
    }

    func handle(_ request: FindCoordinatorRequest, _ context: RequestContext<FindCoordinatorRequest>) {
        let broker = context.broker
        let (host, port) = broker.advertised(listener: context.listener)
        var (error, message) = check(keyType: request.keyType, broker: broker)
        /// DESCRIBE on the group or transactional id, as Kafka checks each key.
        func authorized(_ key: String) -> (ErrorCode, String?)? {
            let (resource, refusal): (ResourceType, ErrorCode) =
                request.keyType == Self.transactionKeyType
                ? (.transactionalId, .transactionalIdAuthorizationFailed) : (.group, .groupAuthorizationFailed)
            return context.authorized(.describe, resource, key) ? nil : (refusal, nil)
        }
        var response = FindCoordinatorResponse()
        if context.version >= 4 {
            response.coordinators = request.coordinatorKeys.map { key in
                let (error, message) = error == .none ? authorized(key) ?? (error, message) : (error, message)
                return FindCoordinatorResponse.Coordinator(
                    key: key, nodeId: error == .none ? broker.configuration.nodeId : -1,
                    host: error == .none ? host : "", port: error == .none ? port : -1,
                    errorCode: error.rawValue, errorMessage: message)
            }
        } else {
            if error == .none, let refusal = authorized(request.key) { (error, message) = refusal }
            response.errorCode = error.rawValue
            response.errorMessage = message
            response.nodeId = error == .none ? broker.configuration.nodeId : -1
            response.host = error == .none ? host : ""
            response.port = error == .none ? port : -1
        }
        context.send(response)
    }

    private func check(keyType: Int8, broker: Broker) -> (ErrorCode, String?) {
        switch keyType {
        case Self.groupKeyType:
            do {
                try broker.offsetsTopic.ensureTopic()
                return (.none, nil)
            } catch {
                broker.log("cannot create \(OffsetsTopic.name): \(error)")
                return (.coordinatorNotAvailable, "The coordinator is not available.")
            }
        case Self.transactionKeyType:
            return (.none, nil)
        default:
            return (.invalidRequest, "Unsupported coordinator key type \(keyType).")
        }
    }
}
