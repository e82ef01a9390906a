// OffsetFetch (key 9): a group's committed offsets, for named partitions or all of them.
// v8+ asks for several groups at once; v9 adds the KIP-848 member check; v10 names topics
// by id. A partition without a commit answers offset -1 and no error, as Kafka does.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct OffsetFetchHandler: ApiHandler {
    typealias Request = OffsetFetchRequest
    let advertised: ClosedRange<Int16> = 1...10

    /// One topic of the answer.
    private struct TopicOffsets {
        var name: String
        var id: Uuid
        var partitions: [(index: Int32, committed: CommittedOffset?, error: ErrorCode)]
    }

    func handle(_ request: OffsetFetchRequest, _ context: RequestContext<OffsetFetchRequest>) {
        var response = OffsetFetchResponse()
        if context.version >= 8 {
            response.groups = request.groups.map { group in
                let wanted = group.topics.map { $0.map { ($0.name, $0.topicId, $0.partitionIndexes) } }
                let (error, topics) = fetch(
                    context, groupId: group.groupId, wanted: wanted, memberId: group.memberId,
                    memberEpoch: group.memberEpoch, requireStable: request.requireStable)
                return .init(
                    groupId: group.groupId,
                    topics: topics.map { topic in
                        .init(
                            name: topic.name, topicId: topic.id,
                            partitions: topic.partitions.map {
                                .init(
                                    partitionIndex: $0.index, committedOffset: $0.committed?.offset ?? -1,
                                    committedLeaderEpoch: $0.committed?.leaderEpoch ?? -1, metadata: $0.committed?.metadata ?? "",
                                    errorCode: $0.error.rawValue)
                            })
                    }, errorCode: error.rawValue)
            }
        } else {
            let wanted = request.topics.map { $0.map { ($0.name, Uuid.zero, $0.partitionIndexes) } }
            let (error, topics) = fetch(
                context, groupId: request.groupId, wanted: wanted, memberId: nil, memberEpoch: -1,
                requireStable: request.requireStable)
            response.errorCode = error.rawValue
            response.topics = topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map {
                        .init(
                            partitionIndex: $0.index, committedOffset: $0.committed?.offset ?? -1,
                            committedLeaderEpoch: $0.committed?.leaderEpoch ?? -1, metadata: $0.committed?.metadata ?? "",
                            errorCode: ($0.error == .none ? error : $0.error).rawValue)
                    })
            }
        }
        context.send(response)
    }

    /// `wanted` nil: every committed offset of the group.
    /// With `requireStable`, a partition whose offset waits on an open transaction answers
    /// UNSTABLE_OFFSET_COMMIT (the client retries).
    private func fetch(
        _ context: RequestContext<OffsetFetchRequest>, groupId: String, wanted: [(String, Uuid, [Int32])]?,
        memberId: String?, memberEpoch: Int32, requireStable: Bool
    ) -> (ErrorCode, [TopicOffsets]) {
        let broker = context.broker
        let byId = context.version >= 10
        guard context.authorized(.describe, .group, groupId) else { return (.groupAuthorizationFailed, []) }
        guard !broker.coordinatedElsewhere(group: groupId) else { return (.notCoordinator, []) }
        var topics: [TopicOffsets] = []
        var resolvedNames: [String?] = []  // per entry of `topics`: the name offsets are kept under
        var partitions: [TopicPartition]? = nil
        if let wanted {
            var named: [TopicPartition] = []
            for (name, id, indexes) in wanted {
                let resolved = byId ? broker.topics.topic(id: id)?.name : name
                resolvedNames.append(resolved)
                topics.append(
                    TopicOffsets(
                        name: name, id: id,
                        partitions: indexes.map {
                            (index: $0, committed: nil, error: resolved == nil ? ErrorCode.unknownTopicId : .none)
                        }))
                if let resolved { named += indexes.map { TopicPartition(topic: resolved, partition: $0) } }
            }
            partitions = named
        }
        let (error, offsets, unstable) = broker.groups.fetchOffsets(
            groupId: groupId, partitions: partitions, memberId: memberId,
            memberEpoch: memberEpoch, requireStable: requireStable)
        guard error == .none else { return (error, []) }
        if wanted == nil {
            // All of the group's offsets: those of topics the principal may DESCRIBE.
            for (partition, committed) in offsets.sorted(by: { $0.key < $1.key })
            where context.authorized(.describe, .topic, partition.topic) {
                let id = broker.topics.topic(named: partition.topic)?.topicId
                if byId && id == nil { continue }  // a deleted topic has no id to show
                if topics.last?.name != partition.topic {
                    topics.append(TopicOffsets(name: partition.topic, id: id ?? .zero, partitions: []))
                }
                topics[topics.count - 1].partitions.append((partition.partition, committed, .none))
            }
            return (.none, topics)
        }
        for topicIndex in topics.indices {
            guard let name = resolvedNames[topicIndex] else { continue }
            for partitionIndex in topics[topicIndex].partitions.indices {
                let key = TopicPartition(topic: name, partition: topics[topicIndex].partitions[partitionIndex].index)
                topics[topicIndex].partitions[partitionIndex].committed = offsets[key]
                if unstable.contains(key) { topics[topicIndex].partitions[partitionIndex].error = .unstableOffsetCommit }
                if !context.authorized(.describe, .topic, name) {
                    topics[topicIndex].partitions[partitionIndex] = (key.partition, nil, .topicAuthorizationFailed)
                }
            }
        }
        return (.none, topics)
    }
}
