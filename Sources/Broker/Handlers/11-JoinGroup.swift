// JoinGroup (key 11): a member enters a classic group's rebalance. The response waits for
// the join barrier (every known member rejoined, or the rebalance timeout), so it is sent
// from whichever thread releases it.

import Coordinators
import KafkaProtocol

struct JoinGroupHandler: ApiHandler {
    typealias Request = JoinGroupRequest
    /// Kafka 4.x advertises v0 (old librdkafka gates SASL GSSAPI on it).
    let advertised: ClosedRange<Int16> = 0...9

    func handle(_ request: JoinGroupRequest, _ context: RequestContext<JoinGroupRequest>) {
        let version = context.version
        guard context.authorized(.read, .group, request.groupId) else {
            return context.send(JoinGroupResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue, generationId: -1, memberId: ""))
        }
        guard !context.broker.coordinatedElsewhere(group: request.groupId) else {
            return context.send(JoinGroupResponse(errorCode: ErrorCode.notCoordinator.rawValue, generationId: -1, memberId: ""))
        }
        let input = JoinGroupInput(
            groupId: request.groupId, memberId: request.memberId, groupInstanceId: request.groupInstanceId,
            clientId: context.clientId, clientHost: context.clientHost, protocolType: request.protocolType,
            protocols: request.protocols.map { ($0.name, $0.metadata) }, sessionTimeoutMilliseconds: request.sessionTimeoutMs,
            // v0 has no rebalance timeout: the session timeout serves as both.
            rebalanceTimeoutMilliseconds: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            requireKnownMemberId: version >= 4 && request.groupInstanceId == nil)
        context.broker.groups.join(input) { outcome in
            var response = JoinGroupResponse(
                errorCode: outcome.error.rawValue, generationId: outcome.generationId, protocolType: outcome.protocolType,
                // Before v7 the protocol name is not nullable.
                protocolName: outcome.protocolName ?? (version >= 7 ? nil : ""),
                leader: outcome.skipAssignment && version < 9 ? outcome.leaderBeforeRejoin ?? outcome.leader : outcome.leader,
                skipAssignment: outcome.skipAssignment && version >= 9, memberId: outcome.memberId)
            // A static leader rejoining a stable group keeps the assignment: from v9 it is
            // told so (KIP-814); before, it hears of its old id as leader and no members,
            // so it follows and SyncGroup hands it the assignment it had.
            let members = outcome.skipAssignment && version < 9 ? [] : outcome.members
            response.members = members.map {
                JoinGroupResponse.JoinGroupResponseMember(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata)
            }
            context.send(response)
        }
    }
}
