// Heartbeat (key 12): keeps a classic member's session alive; REBALANCE_IN_PROGRESS tells
// it to rejoin.

import KafkaProtocol

struct HeartbeatHandler: ApiHandler {
    typealias Request = HeartbeatRequest
    let advertised: ClosedRange<Int16> = 0...4

    func handle(_ request: HeartbeatRequest, _ context: RequestContext<HeartbeatRequest>) {
        guard context.authorized(.read, .group, request.groupId) else {
            return context.send(HeartbeatResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(HeartbeatResponse(errorCode: ErrorCode.notCoordinator.rawValue))
        }
        let error = context.broker.groups.heartbeat(
            groupId: request.groupId, generationId: request.generationId,
            memberId: request.memberId, groupInstanceId: request.groupInstanceId)
        context.send(HeartbeatResponse(errorCode: error.rawValue))
    }
}
