// LeaveGroup (key 13): members leave a classic group, which rebalances without them.
// v3+ names several members, static ones by group.instance.id.

import KafkaProtocol

struct LeaveGroupHandler: ApiHandler {
    typealias Request = LeaveGroupRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: LeaveGroupRequest, _ context: RequestContext<LeaveGroupRequest>) {
        guard context.authorized(.read, .group, request.groupId) else {
            return context.send(LeaveGroupResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(LeaveGroupResponse(errorCode: ErrorCode.notCoordinator.rawValue))
        }
        let identities: [(memberId: String, groupInstanceId: String?)] =
            context.version >= 3
            ? request.members.map { ($0.memberId, $0.groupInstanceId) }
            : [(request.memberId, nil)]
        let (groupError, memberErrors) = context.broker.groups.leave(groupId: request.groupId, members: identities)
        var response = LeaveGroupResponse(errorCode: groupError.rawValue)
        if context.version >= 3 {
            response.members = zip(identities, memberErrors).map {
                LeaveGroupResponse.MemberResponse(memberId: $0.0.memberId, groupInstanceId: $0.0.groupInstanceId, errorCode: $0.1.rawValue)
            }
        } else if groupError == .none, let memberError = memberErrors.first {
            response.errorCode = memberError.rawValue
        }
        guard groupError == .none else { return context.send(response) }
        context.sendWhenReplicated(response, coordinatorPartition: context.broker.offsetsPartition(of: request.groupId)) {
            LeaveGroupResponse(errorCode: $0.rawValue)
        }
    }
}
