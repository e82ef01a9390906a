// SyncGroup (key 14): the leader hands in the assignment and every member receives its
// part. Members other than the leader wait for it, so the response may leave later.

import Coordinators
import KafkaProtocol

struct SyncGroupHandler: ApiHandler {
    typealias Request = SyncGroupRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: SyncGroupRequest, _ context: RequestContext<SyncGroupRequest>) {
        let version = context.version
        guard context.authorized(.read, .group, request.groupId) else {
            return context.send(SyncGroupResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue, assignment: []))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(SyncGroupResponse(errorCode: ErrorCode.notCoordinator.rawValue, assignment: []))
        }
        context.broker.groups.sync(
            groupId: request.groupId, generationId: request.generationId, memberId: request.memberId,
            groupInstanceId: request.groupInstanceId, protocolType: request.protocolType, protocolName: request.protocolName,
            assignments: request.assignments.map { ($0.memberId, $0.assignment) }
        ) { outcome in
            // v5+ echoes the protocol so the client can check it.
            let echo = version >= 5 && outcome.error == .none
            let response = SyncGroupResponse(
                errorCode: outcome.error.rawValue, protocolType: echo ? outcome.protocolType : nil,
                protocolName: echo ? outcome.protocolName : nil, assignment: outcome.assignment)
            guard outcome.error == .none else { return context.send(response) }
            // The assignment counts once replicated: a member told it must find it after a failover.
            context.sendWhenReplicated(response, coordinatorPartition: context.broker.offsetsPartition(of: request.groupId)) {
                SyncGroupResponse(errorCode: $0.rawValue, assignment: [])
            }
        }
    }
}
