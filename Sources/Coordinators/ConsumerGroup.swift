// A consumer group on KIP-848's consumer protocol: the coordinator owns the assignment.
// The group epoch moves when membership or subscribed metadata changes; a target
// assignment is computed for it; each member reconciles towards its target one heartbeat
// at a time, giving up partitions before another member receives them.

import KafkaWire

public enum ConsumerGroupState: String, Sendable {
    case empty = "Empty"
    case assigning = "Assigning"
    case reconciling = "Reconciling"
    case stable = "Stable"
    case dead = "Dead"
}

/// Partitions by topic name.
typealias TopicAssignment = [String: Set<Int32>]

/// Raw values: Kafka's MemberState ids in the current-assignment record.
enum MemberReconciliation: Int8, Sendable {
    case stable = 0
    /// Waiting for the member to stop owning `partitionsPendingRevocation`.
    case unrevokedPartitions
    /// Some target partitions are still owned by other members.
    case unreleasedPartitions
}

final class ConsumerMember {
    let memberId: String
    var instanceId: String?
    var rackId: String?
    var clientId: String
    var clientHost: String
    var subscribedTopicNames: [String] = []
    var subscribedTopicRegex: String?
    var serverAssignor: String?
    var rebalanceTimeoutMilliseconds: Int32 = -1
    var memberEpoch: Int32 = 0
    var previousMemberEpoch: Int32 = -1
    var reconciliation = MemberReconciliation.stable
    var assigned: TopicAssignment = [:]
    var partitionsPendingRevocation: TopicAssignment = [:]
    /// The subscription with the regex resolved against the current topics.
    var resolvedSubscription: [String] = []
    var heartbeatDeadline: Int64
    var revocationDeadline: Int64?
    /// What the last heartbeat response told the member, to send only changes.
    var lastSentAssignment: TopicAssignment?
    /// The member's records as last written to __consumer_offsets, to write only changes.
    var writtenMetadata: [UInt8]?
    var writtenAssignment: [UInt8]?

    init(memberId: String, clientId: String, clientHost: String, heartbeatDeadline: Int64) {
        self.memberId = memberId
        self.clientId = clientId
        self.clientHost = clientHost
        self.heartbeatDeadline = heartbeatDeadline
    }

    func owns(topic: String, partition: Int32) -> Bool {
        assigned[topic]?.contains(partition) == true || partitionsPendingRevocation[topic]?.contains(partition) == true
    }
}

final class ConsumerGroup {
    let groupId: String
    var groupEpoch: Int32 = 0
    var assignmentEpoch: Int32 = 0
    var members: [String: ConsumerMember] = [:]
    var targetAssignment: [String: TopicAssignment] = [:]
    /// Partition counts of the subscribed topics when the target was computed.
    var subscribedTopicPartitions: [String: Int32] = [:]
    /// Each member's resolved subscription when the target was computed.
    var lastSubscriptions: [String: Set<String>] = [:]
    var assignorName: String?
    var stateTimestamp: Int64
    /// Each member's target as last written to __consumer_offsets.
    var writtenTargets: [String: [UInt8]] = [:]
    /// Rebuilt by replay: the next heartbeat adopts the current subscriptions without a bump.
    var isRestored = false

    init(groupId: String, now: Int64) {
        self.groupId = groupId
        stateTimestamp = now
    }

    var state: ConsumerGroupState {
        if members.isEmpty { return .empty }
        if groupEpoch > assignmentEpoch { return .assigning }
        let reconciled = members.values.allSatisfy { $0.memberEpoch == assignmentEpoch && $0.reconciliation == .stable }
        return reconciled ? .stable : .reconciling
    }

    func member(withInstanceId instanceId: String) -> ConsumerMember? {
        members.values.first { $0.instanceId == instanceId }
    }

    func isOwnedByAnotherMember(topic: String, partition: Int32, than memberId: String) -> Bool {
        members.values.contains { $0.memberId != memberId && $0.owns(topic: topic, partition: partition) }
    }
}
