// ListGroups (key 16): every group, filtered by state (v4+) and type (v5+).

import Coordinators
import KafkaProtocol

struct ListGroupsHandler: ApiHandler {
    typealias Request = ListGroupsRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: ListGroupsRequest, _ context: RequestContext<ListGroupsRequest>) {
        let groups = context.broker.groups.listGroups(states: request.statesFilter, types: request.typesFilter)
        context.send(
            ListGroupsResponse(
                errorCode: 0,
                groups: groups.map {
                    .init(groupId: $0.groupId, protocolType: $0.protocolType, groupState: $0.state, groupType: $0.type)
                }))
    }
}
