// OffsetCommit (key 8): stores a group's consumed positions in __consumer_offsets. The
// coordinator checks the generation (classic) or member epoch (KIP-848); the response
// waits until the records are as durable as produced data.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct OffsetCommitHandler: ApiHandler {
    typealias Request = OffsetCommitRequest
    let advertised: ClosedRange<Int16> = 2...10

    func handle(_ request: OffsetCommitRequest, _ context: RequestContext<OffsetCommitRequest>) {
        let broker = context.broker
        let byId = context.version >= 10
        var inputs: [OffsetCommitInput] = []
        // Per partition, in request order: an error found here, or nil for the coordinator's.
        var checked: [[ErrorCode?]] = []
        let groupAllowed = context.authorized(.read, .group, request.groupId)
        let coordinated = !broker.coordinatedElsewhere(group: request.groupId)
        for topic in request.topics {
            let info = broker.topics.topic(named: topic.name, id: topic.topicId, byId: byId)
            let topicAllowed = context.authorized(.read, .topic, info?.name ?? topic.name)
            checked.append(
                topic.partitions.map { partition in
                    // Kafka: READ on the group, then READ on each topic.
                    if !groupAllowed { return .groupAuthorizationFailed }
                    if !topicAllowed { return .topicAuthorizationFailed }
                    if !coordinated { return .notCoordinator }
                    guard let info, (0..<info.partitions).contains(partition.partitionIndex) else {
                        return byId && info == nil ? .unknownTopicId : .unknownTopicOrPartition
                    }
                    inputs.append(
                        OffsetCommitInput(
                            partition: TopicPartition(topic: info.name, partition: partition.partitionIndex),
                            offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch,
                            metadata: partition.committedMetadata))
                    return nil
                })
        }
        let retention = context.version <= 4 ? request.retentionTimeMs : -1
        var coordinatorErrors = broker.groups.commitOffsets(
            groupId: request.groupId, generationIdOrMemberEpoch: request.generationIdOrMemberEpoch, memberId: request.memberId,
            groupInstanceId: request.groupInstanceId, retentionMilliseconds: retention, apiVersion: context.version, offsets: inputs
        ).makeIterator()
        var response = OffsetCommitResponse()
        for (topic, errors) in zip(request.topics, checked) {
            response.topics.append(
                .init(
                    name: topic.name, topicId: topic.topicId,
                    partitions: zip(topic.partitions, errors).map {
                        .init(
                            partitionIndex: $0.0.partitionIndex,
                            errorCode: ($0.1 ?? coordinatorErrors.next() ?? .unknownServerError).rawValue)
                    }))
        }
        guard !inputs.isEmpty, let log = broker.offsetsTopic.partitionLog(broker.groups.offsetsPartition(for: request.groupId)) else {
            return context.send(response)
        }
        let finished = response
        // In a cluster, as Kafka's coordinator: answered once the in-sync replicas of the group's
        // partition have the commit, so that a new coordinator finds it after a failover.
        broker.whenCoordinatorWriteReplicated(log.topicPartition, on: context.eventLoop) { error in
            guard error == .none else {
                var refused = finished
                for topic in refused.topics.indices {
                    for partition in refused.topics[topic].partitions.indices
                    where refused.topics[topic].partitions[partition].errorCode == 0 {
                        refused.topics[topic].partitions[partition].errorCode = error.rawValue
                    }
                }
                return context.send(refused)
            }
            broker.logs.whenDurable(log) { error in
                if let error { broker.log("offsets of group \(request.groupId) not made durable: \(error)") }
                context.send(finished)
            }
        }
    }
}
