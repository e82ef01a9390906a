// ConsumerGroupHeartbeat (key 68): KIP-848's consumer protocol. Joining, leaving,
// subscribing and receiving the assignment all travel on the heartbeat; the coordinator
// computes the assignment (uniform or range).

import Coordinators
import KafkaProtocol

struct ConsumerGroupHeartbeatHandler: ApiHandler {
    typealias Request = ConsumerGroupHeartbeatRequest
    let advertised: ClosedRange<Int16> = 0...1

    func handle(_ request: ConsumerGroupHeartbeatRequest, _ context: RequestContext<ConsumerGroupHeartbeatRequest>) {
        guard context.authorized(.read, .group, request.groupId) else {
            return context.send(
                ConsumerGroupHeartbeatResponse(
                    errorCode: ErrorCode.groupAuthorizationFailed.rawValue, memberEpoch: -1, heartbeatIntervalMs: 0))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(
                ConsumerGroupHeartbeatResponse(errorCode: ErrorCode.notCoordinator.rawValue, memberEpoch: -1, heartbeatIntervalMs: 0))
        }
        // Kafka: DESCRIBE on every subscribed topic, or the heartbeat is refused.
        if let names = request.subscribedTopicNames {
            let refused = names.filter { !context.authorized(.describe, .topic, $0) }
            if !refused.isEmpty {
                return context.send(
                    ConsumerGroupHeartbeatResponse(
                        errorCode: ErrorCode.topicAuthorizationFailed.rawValue,
                        errorMessage: "The group member is not authorized to describe topics \(refused.sorted().joined(separator: ", ")).",
                        memberEpoch: -1, heartbeatIntervalMs: 0))
            }
        }
        let outcome = context.broker.groups.consumerGroupHeartbeat(
            ConsumerHeartbeatInput(
                groupId: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch, instanceId: request.instanceId,
                rackId: request.rackId, rebalanceTimeoutMilliseconds: request.rebalanceTimeoutMs,
                subscribedTopicNames: request.subscribedTopicNames, subscribedTopicRegex: request.subscribedTopicRegex,
                serverAssignor: request.serverAssignor, ownedPartitions: request.topicPartitions?.map { ($0.topicId, $0.partitions) },
                clientId: context.clientId, clientHost: context.clientHost))
        let response = ConsumerGroupHeartbeatResponse(
            errorCode: outcome.error.rawValue, errorMessage: outcome.errorMessage, memberId: outcome.memberId,
            memberEpoch: outcome.memberEpoch, heartbeatIntervalMs: outcome.heartbeatIntervalMilliseconds,
            assignment: outcome.assignment.map { assignment in
                .init(topicPartitions: assignment.map { .init(topicId: $0.topicId, partitions: $0.partitions) })
            })
        guard outcome.error == .none else { return context.send(response) }
        // As Kafka's coordinator: the member's new epoch and assignment count once replicated.
        context.sendWhenReplicated(response, coordinatorPartition: context.broker.offsetsPartition(of: request.groupId)) {
            ConsumerGroupHeartbeatResponse(errorCode: $0.rawValue, memberEpoch: -1, heartbeatIntervalMs: 0)
        }
    }
}
