// DescribeGroups (key 15): classic groups with their members; metadata and assignments
// once the group is stable. A missing group is "Dead" (v6+: GROUP_ID_NOT_FOUND, KIP-1043).

import Coordinators
import KafkaProtocol

struct DescribeGroupsHandler: ApiHandler {
    typealias Request = DescribeGroupsRequest
    let advertised: ClosedRange<Int16> = 0...6

    func handle(_ request: DescribeGroupsRequest, _ context: RequestContext<DescribeGroupsRequest>) {
        var response = DescribeGroupsResponse(
            groups: request.groups.map { groupId in
                guard context.authorized(.describe, .group, groupId) else {
                    return .init(
                        errorCode: ErrorCode.groupAuthorizationFailed.rawValue, groupId: groupId, groupState: "", protocolType: "",
                        protocolData: "")
                }
                guard !context.broker.coordinatedElsewhere(group: groupId) else {
                    return .init(
                        errorCode: ErrorCode.notCoordinator.rawValue, groupId: groupId, groupState: "", protocolType: "", protocolData: "")
                }
                guard let group = context.broker.groups.describeClassicGroup(groupId), group.error == .none else {
                    let notFound = context.version >= 6
                    return .init(
                        errorCode: (notFound ? ErrorCode.groupIdNotFound : .none).rawValue,
                        errorMessage: notFound ? "Group \(groupId) not found." : nil, groupId: groupId,
                        groupState: ClassicGroupState.dead.rawValue, protocolType: "", protocolData: "")
                }
                return .init(
                    groupId: groupId, groupState: group.state, protocolType: group.protocolType, protocolData: group.protocolName,
                    members: group.members.map {
                        .init(
                            memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId,
                            clientHost: $0.clientHost, memberMetadata: $0.metadata, memberAssignment: $0.assignment)
                    })
            })
        if request.includeAuthorizedOperations && context.version >= 3 {
            for index in response.groups.indices where response.groups[index].errorCode == 0 {
                response.groups[index].authorizedOperations = context.authorizedOperations(.group, response.groups[index].groupId)
            }
        }
        context.send(response)
    }
}
