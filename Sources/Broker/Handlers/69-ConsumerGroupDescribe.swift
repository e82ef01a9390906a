// ConsumerGroupDescribe (key 69): KIP-848 groups with their epochs, members, current and
// target assignments.

import Coordinators
import KafkaProtocol

struct ConsumerGroupDescribeHandler: ApiHandler {
    typealias Request = ConsumerGroupDescribeRequest
    let advertised: ClosedRange<Int16> = 0...1

    func handle(_ request: ConsumerGroupDescribeRequest, _ context: RequestContext<ConsumerGroupDescribeRequest>) {
        func assignment(_ partitions: [TopicIdPartitions]) -> ConsumerGroupDescribeResponse.Assignment {
            .init(topicPartitions: partitions.map { .init(topicId: $0.topicId, topicName: $0.topicName, partitions: $0.partitions) })
        }
        var response =
            ConsumerGroupDescribeResponse(
                groups: request.groupIds.map { groupId in
                    guard context.authorized(.describe, .group, groupId) else {
                        return .init(
                            errorCode: ErrorCode.groupAuthorizationFailed.rawValue, groupId: groupId, groupState: "", groupEpoch: -1,
                            assignmentEpoch: -1, assignorName: "")
                    }
                    guard !context.broker.coordinatedElsewhere(group: groupId) else {
                        return .init(
                            errorCode: ErrorCode.notCoordinator.rawValue, groupId: groupId, groupState: "", groupEpoch: -1,
                            assignmentEpoch: -1, assignorName: "")
                    }
                    guard let group = context.broker.groups.describeConsumerGroup(groupId) else {
                        return .init(
                            errorCode: ErrorCode.groupIdNotFound.rawValue, errorMessage: "Group \(groupId) not found.",
                            groupId: groupId, groupState: "Dead")
                    }
                    return .init(
                        errorCode: group.error.rawValue, errorMessage: group.errorMessage, groupId: groupId, groupState: group.state,
                        groupEpoch: group.groupEpoch, assignmentEpoch: group.assignmentEpoch, assignorName: group.assignorName,
                        members: group.members.map {
                            .init(
                                memberId: $0.memberId, instanceId: $0.instanceId, rackId: $0.rackId, memberEpoch: $0.memberEpoch,
                                clientId: $0.clientId, clientHost: $0.clientHost, subscribedTopicNames: $0.subscribedTopicNames,
                                subscribedTopicRegex: $0.subscribedTopicRegex, assignment: assignment($0.assignment),
                                targetAssignment: assignment($0.targetAssignment), memberType: 1)
                        })
                })
        if request.includeAuthorizedOperations {
            for index in response.groups.indices where response.groups[index].errorCode == 0 {
                response.groups[index].authorizedOperations = context.authorizedOperations(.group, response.groups[index].groupId)
            }
        }
        context.send(response)
    }
}
