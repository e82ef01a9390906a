// DeleteGroups (key 42): removes empty groups and their offsets; a group with members
// answers NON_EMPTY_GROUP.

import KafkaProtocol

struct DeleteGroupsHandler: ApiHandler {
    typealias Request = DeleteGroupsRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: DeleteGroupsRequest, _ context: RequestContext<DeleteGroupsRequest>) {
        context.send(
            DeleteGroupsResponse(
                results: request.groupsNames.map {
                    let error: ErrorCode =
                        if !context.authorized(.delete, .group, $0) {
                            .groupAuthorizationFailed
                        } else if context.broker.coordinatedElsewhere(group: $0) {
                            .notCoordinator
                        } else {
                            context.broker.groups.deleteGroup($0)
                        }
                    return .init(groupId: $0, errorCode: error.rawValue)
                }))
    }
}
