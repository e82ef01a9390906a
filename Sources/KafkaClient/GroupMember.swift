// A member of a classic consumer group, as the command line joins one: JoinGroup with the
// "consumer" protocol, the range assignor run here when this member leads, SyncGroup for its
// share, heartbeats between fetches (a rebalance means joining again), offsets committed
// under its generation, and LeaveGroup at the end.

import KafkaProtocol
import KafkaWire
import SystemCalls

public final class GroupMember {
    let cluster: KafkaCluster
    public let group: String
    public let topic: String
    let sessionTimeoutMilliseconds: Int32
    private var coordinator: BrokerConnection
    public private(set) var memberId = ""
    public private(set) var generationId: Int32 = -1
    private var lastHeartbeat: UInt64 = 0

    public init(cluster: KafkaCluster, group: String, topic: String, sessionTimeoutMilliseconds: Int32 = 10_000) throws(ClientError) {
        self.cluster = cluster
        self.group = group
        self.topic = topic
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        coordinator = try cluster.coordinator(of: group)
    }

    /// Joins the group (again after a rebalance) and returns this member's partitions.
    public func join() throws(ClientError) -> [Int32] {
        while true {
            let subscription = try Self.encoded(ConsumerProtocolSubscription(topics: [topic]))
            let request = JoinGroupRequest(
                groupId: group, sessionTimeoutMs: sessionTimeoutMilliseconds, rebalanceTimeoutMs: sessionTimeoutMilliseconds,
                memberId: memberId, protocolType: "consumer", protocols: [.init(name: "range", metadata: subscription)])
            let (joined, _) = try coordinator.send(request)
            if joined.errorCode == ErrorCode.memberIdRequired.rawValue {
                memberId = joined.memberId  // KIP-394: join again with the id given
                continue
            }
            if joined.errorCode == ErrorCode.unknownMemberId.rawValue {
                memberId = ""
                continue
            }
            try KafkaFailure.check(joined.errorCode, subject: "joining group \(group)")
            memberId = joined.memberId
            generationId = joined.generationId
            var assignments: [SyncGroupRequest.SyncGroupRequestAssignment] = []
            if joined.leader == memberId {
                let partitions = try cluster.topic(topic).partitions.map(\.partitionIndex).sorted()
                for (member, share) in Self.rangeAssignment(members: joined.members.map(\.memberId), partitions: partitions) {
                    let assignment = ConsumerProtocolAssignment(assignedPartitions: [.init(topic: topic, partitions: share)])
                    assignments.append(.init(memberId: member, assignment: try Self.encoded(assignment)))
                }
            }
            let sync = SyncGroupRequest(
                groupId: group, generationId: generationId, memberId: memberId, protocolType: "consumer", protocolName: "range",
                assignments: assignments)
            let (synced, _) = try coordinator.send(sync)
            if synced.errorCode == ErrorCode.rebalanceInProgress.rawValue { continue }
            try KafkaFailure.check(synced.errorCode, subject: "syncing group \(group)")
            lastHeartbeat = System.monotonicNanoseconds()
            guard !synced.assignment.isEmpty else { return [] }
            var reader = ByteReader(synced.assignment)
            do {
                let version = try reader.readInt16()
                let assignment = try ConsumerProtocolAssignment(
                    from: &reader, version: min(max(version, 0), ConsumerProtocolAssignment.validVersions.upperBound))
                return assignment.assignedPartitions.filter { $0.topic == topic }.flatMap(\.partitions).sorted()
            } catch {
                throw ClientError("group \(group): the leader's assignment does not decode: \(error)")
            }
        }
    }

    /// Heartbeats when a third of the session has passed; true when the group is
    /// rebalancing and this member must join again.
    public func heartbeatIfDue() throws(ClientError) -> Bool {
        let due = UInt64(sessionTimeoutMilliseconds / 3) * 1_000_000
        guard System.monotonicNanoseconds() - lastHeartbeat >= due else { return false }
        let (response, _) = try coordinator.send(HeartbeatRequest(groupId: group, generationId: generationId, memberId: memberId))
        lastHeartbeat = System.monotonicNanoseconds()
        if response.errorCode == ErrorCode.rebalanceInProgress.rawValue || response.errorCode == ErrorCode.illegalGeneration.rawValue
            || response.errorCode == ErrorCode.unknownMemberId.rawValue
        {
            return true
        }
        try KafkaFailure.check(response.errorCode, subject: "heartbeat in group \(group)")
        return false
    }

    /// Commits offsets under this member's generation; false when a rebalance took the
    /// partitions away meanwhile (join again).
    public func commit(_ offsets: [Int32: Int64]) throws(ClientError) -> Bool {
        guard !offsets.isEmpty else { return true }
        let request = OffsetCommitRequest(
            groupId: group, generationIdOrMemberEpoch: generationId, memberId: memberId, groupInstanceId: nil, retentionTimeMs: -1,
            topics: [
                .init(
                    name: topic, topicId: try cluster.topic(topic).topicId,
                    partitions: offsets.sorted(by: { $0.key < $1.key }).map {
                        .init(partitionIndex: $0.key, committedOffset: $0.value, committedLeaderEpoch: -1, committedMetadata: nil)
                    })
            ])
        let (response, _) = try coordinator.send(request)
        for partition in response.topics.flatMap(\.partitions) {
            if [ErrorCode.rebalanceInProgress, .illegalGeneration, .unknownMemberId].map(\.rawValue).contains(partition.errorCode) {
                return false
            }
            try KafkaFailure.check(partition.errorCode, subject: "committing for group \(group)")
        }
        return true
    }

    public func leave() {
        guard let version = try? coordinator.version(of: LeaveGroupRequest.self) else { return }
        // v3 on names members in a list; before, the one member.
        let request =
            version >= 3
            ? LeaveGroupRequest(groupId: group, memberId: "", members: [.init(memberId: memberId)])
            : LeaveGroupRequest(groupId: group, memberId: memberId, members: [])
        _ = try? coordinator.send(request, version: version)
    }

    /// Kafka's RangeAssignor for one topic: members in id order, each a consecutive run of
    /// partitions, the first ones one more when they do not divide evenly.
    static func rangeAssignment(members: [String], partitions: [Int32]) -> [(String, [Int32])] {
        let sorted = members.sorted()
        guard !sorted.isEmpty else { return [] }
        let share = partitions.count / sorted.count
        let extra = partitions.count % sorted.count
        var start = 0
        return sorted.enumerated().map { index, member in
            let count = share + (index < extra ? 1 : 0)
            defer { start += count }
            return (member, Array(partitions[start..<start + count]))
        }
    }

    /// A consumer protocol message: its version (0), then its body.
    static func encoded(_ message: some KafkaMessage) throws(ClientError) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeInt16(0)
        do {
            try message.encode(into: &writer, version: 0)
        } catch {
            throw ClientError("encoding \(type(of: message)): \(error)")
        }
        return writer.takeBytes()
    }
}
