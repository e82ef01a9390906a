// Consumer groups as an administrator sees them: listed on every broker, described by their
// coordinator with each partition's committed offset and lag, deleted, and their offsets
// committed from outside (Kafka accepts that for a group without members).

import KafkaProtocol
import KafkaWire

public struct GroupPartitionLag: Sendable {
    public var topic: String
    public var partition: Int32
    public var committedOffset: Int64
    public var logEndOffset: Int64
    /// nil when nothing is committed.
    public var lag: Int64? { committedOffset >= 0 ? max(0, logEndOffset - committedOffset) : nil }
}

extension KafkaCluster {
    /// Every group of every broker: (id, state, protocol type).
    public func listGroups() throws(ClientError) -> [ListGroupsResponse.ListedGroup] {
        _ = try metadata(topics: [])
        var groups: [String: ListGroupsResponse.ListedGroup] = [:]
        for nodeId in brokers.keys.sorted() {
            let (response, _) = try connection(to: nodeId).send(ListGroupsRequest(statesFilter: [], typesFilter: []))
            try KafkaFailure.check(response.errorCode, subject: "listing groups on broker \(nodeId)")
            for group in response.groups { groups[group.groupId] = group }
        }
        return groups.values.sorted { $0.groupId < $1.groupId }
    }

    public func describeGroup(_ group: String) throws(ClientError) -> DescribeGroupsResponse.DescribedGroup {
        let (response, _) = try coordinator(of: group).send(DescribeGroupsRequest(groups: [group], includeAuthorizedOperations: false))
        guard let described = response.groups.first else { throw ClientError("group \(group): no answer") }
        try KafkaFailure.check(described.errorCode, subject: "group \(group)", message: described.errorMessage)
        return described
    }

    /// The group's committed offsets (every topic's, or `topic`'s), by topic and partition;
    /// a partition without one is -1 when `topic` is given, left out otherwise.
    public func committedOffsets(of group: String, topic: String? = nil) throws(ClientError) -> [String: [Int32: Int64]] {
        // The topics named rather than "all" (null): some brokers (Tansu) answer "all" with a
        // null array the version does not allow.
        let metadata = try metadata(topics: topic.map { [$0] })
        let topics = metadata.topics.filter { !$0.isInternal && $0.errorCode == 0 }.compactMap { described in
            described.name.map {
                OffsetFetchRequest.OffsetFetchRequestTopic(name: $0, partitionIndexes: described.partitions.map(\.partitionIndex))
            }
        }
        if let topic, topics.isEmpty { _ = try self.topic(topic) }  // Kafka's error for it
        let request = OffsetFetchRequest(groupId: group, topics: topics, groups: [], requireStable: false)
        let connection = try coordinator(of: group)
        let version = try connection.version(of: OffsetFetchRequest.self, within: 1...7)
        let response = try connection.send(request, version: version)
        try KafkaFailure.check(response.errorCode, subject: "offsets of group \(group)")
        var offsets: [String: [Int32: Int64]] = [:]
        for answered in response.topics {
            for partition in answered.partitions {
                try KafkaFailure.check(partition.errorCode, subject: "offsets of group \(group) on \(answered.name)")
                if topic != nil || partition.committedOffset >= 0 {
                    offsets[answered.name, default: [:]][partition.partitionIndex] = partition.committedOffset
                }
            }
        }
        return offsets
    }

    /// Committed offsets against the log end, partition by partition.
    public func lag(of group: String) throws(ClientError) -> [GroupPartitionLag] {
        var rows: [GroupPartitionLag] = []
        for (topic, committed) in try committedOffsets(of: group).sorted(by: { $0.key < $1.key }) {
            let ends = try offsets(of: topic, partitions: committed.keys.sorted(), timestamp: -1)
            for (partition, offset) in committed.sorted(by: { $0.key < $1.key }) {
                rows.append(
                    GroupPartitionLag(topic: topic, partition: partition, committedOffset: offset, logEndOffset: ends[partition] ?? -1))
            }
        }
        return rows
    }

    public func deleteGroup(_ group: String) throws(ClientError) {
        let (response, _) = try coordinator(of: group).send(DeleteGroupsRequest(groupsNames: [group]))
        for result in response.results { try KafkaFailure.check(result.errorCode, subject: "deleting group \(group)") }
    }

    /// Commits offsets for `group` as a standalone client (no member, generation -1): Kafka
    /// takes this for a group with no members, and refuses it for an active one.
    public func commit(_ offsets: [Int32: Int64], of topic: String, for group: String) throws(ClientError) {
        guard !offsets.isEmpty else { return }
        let topicId = try self.topic(topic).topicId
        let request = OffsetCommitRequest(
            groupId: group, generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil, retentionTimeMs: -1,
            topics: [
                .init(
                    name: topic, topicId: topicId,
                    partitions: offsets.sorted(by: { $0.key < $1.key }).map {
                        .init(partitionIndex: $0.key, committedOffset: $0.value, committedLeaderEpoch: -1, committedMetadata: nil)
                    })
            ])
        let (response, _) = try coordinator(of: group).send(request)
        for topic in response.topics {
            for partition in topic.partitions {
                try KafkaFailure.check(
                    partition.errorCode, subject: "committing \(topic.name) partition \(partition.partitionIndex) for \(group)")
            }
        }
    }
}
