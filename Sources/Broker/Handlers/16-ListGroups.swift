// ListGroups (key 16): every group, filtered by state (v4+) and type (v5+).

import Coordinators
import KafkaProtocol

struct ListGroupsHandler: ApiHandler {
    typealias Request = ListGroupsRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: ListGroupsRequest, _ context: RequestContext<ListGroupsRequest>) {
        // DESCRIBE on the cluster lists every group; otherwise those the principal may DESCRIBE.
        let all = context.authorized(.describe, .cluster, clusterResourceName, logIfDenied: false)
        let groups = context.broker.groups.listGroups(states: request.statesFilter, types: request.typesFilter)
            .filter { all || context.authorized(.describe, .group, $0.groupId, logIfDenied: false) }
        context.send(
            ListGroupsResponse(
                errorCode: 0,
                groups: groups.map {
                    .init(groupId: $0.groupId, protocolType: $0.protocolType, groupState: $0.state, groupType: $0.type)
                }))
    }
}
