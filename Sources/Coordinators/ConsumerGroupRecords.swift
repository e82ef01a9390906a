// KIP-848 groups in __consumer_offsets, in Kafka's record types: the group epoch (3), each
// member's metadata (5), the target assignment (6 and 7) and each member's current
// assignment (8). Only what changed is written; replay rebuilds the group from them.

import KafkaProtocol
import KafkaWire

extension OffsetsTopic {
    static func consumerMemberKey(_ group: String, _ member: String) -> [UInt8] {
        InternalTopic.encode(
            ConsumerGroupMemberMetadataKey(groupId: group, memberId: member), version: consumerGroupMemberKeyVersion, messageVersion: 0)
    }

    static func targetAssignmentMetadataKey(_ group: String) -> [UInt8] {
        InternalTopic.encode(
            ConsumerGroupTargetAssignmentMetadataKey(groupId: group), version: consumerGroupTargetAssignmentMetadataKeyVersion,
            messageVersion: 0)
    }

    static func targetAssignmentMemberKey(_ group: String, _ member: String) -> [UInt8] {
        InternalTopic.encode(
            ConsumerGroupTargetAssignmentMemberKey(groupId: group, memberId: member),
            version: consumerGroupTargetAssignmentMemberKeyVersion, messageVersion: 0)
    }

    static func currentAssignmentKey(_ group: String, _ member: String) -> [UInt8] {
        InternalTopic.encode(
            ConsumerGroupCurrentMemberAssignmentKey(groupId: group, memberId: member),
            version: consumerGroupCurrentAssignmentKeyVersion, messageVersion: 0)
    }
}

extension GroupCoordinator {
    private func byTopicId(_ assignment: TopicAssignment) -> [(Uuid, [Int32])] {
        assignment.keys.sorted().compactMap { name in
            guard let topic = topics.topic(named: name), let partitions = assignment[name], !partitions.isEmpty else { return nil }
            return (topic.id, partitions.sorted())
        }
    }

    private func byTopicName(_ assignment: [(Uuid, [Int32])]) -> TopicAssignment {
        resolve(assignment.map { (topicId: $0.0, partitions: $0.1) })
    }

    /// The member's metadata and current assignment, where they differ from what was written.
    func memberRecords(_ member: ConsumerMember, in group: ConsumerGroup) -> [CoordinatorRecord] {
        var records: [CoordinatorRecord] = []
        let metadata = InternalTopic.encode(
            ConsumerGroupMemberMetadataValue(
                instanceId: member.instanceId, rackId: member.rackId, clientId: member.clientId, clientHost: member.clientHost,
                subscribedTopicNames: member.subscribedTopicNames, subscribedTopicRegex: member.subscribedTopicRegex,
                rebalanceTimeoutMs: member.rebalanceTimeoutMilliseconds, serverAssignor: member.serverAssignor), version: 0,
            messageVersion: 0)
        if metadata != member.writtenMetadata {
            records.append(.init(key: OffsetsTopic.consumerMemberKey(group.groupId, member.memberId), value: metadata))
            member.writtenMetadata = metadata
        }
        let assignment = InternalTopic.encode(
            ConsumerGroupCurrentMemberAssignmentValue(
                memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch, state: member.reconciliation.rawValue,
                assignedPartitions: byTopicId(member.assigned).map { .init(topicId: $0.0, partitions: $0.1) },
                partitionsPendingRevocation: byTopicId(member.partitionsPendingRevocation).map { .init(topicId: $0.0, partitions: $0.1) }),
            version: 0, messageVersion: 0)
        if assignment != member.writtenAssignment {
            records.append(.init(key: OffsetsTopic.currentAssignmentKey(group.groupId, member.memberId), value: assignment))
            member.writtenAssignment = assignment
        }
        return records
    }

    /// The group epoch, the members' targets that changed, and the target's epoch (written
    /// last: Kafka reads a target as complete once its epoch record arrives).
    func targetRecords(_ group: ConsumerGroup) -> [CoordinatorRecord] {
        var records = [
            CoordinatorRecord(
                key: OffsetsTopic.consumerGroupMetadataKey(group.groupId),
                value: InternalTopic.encode(ConsumerGroupMetadataValue(epoch: group.groupEpoch), version: 0, messageVersion: 0))
        ]
        records += group.targetAssignment.keys.sorted().compactMap { targetRecord(group, memberId: $0) }
        records.append(
            .init(
                key: OffsetsTopic.targetAssignmentMetadataKey(group.groupId),
                value: InternalTopic.encode(
                    ConsumerGroupTargetAssignmentMetadataValue(assignmentEpoch: group.assignmentEpoch),
                    version: 0, messageVersion: 0)))
        return records
    }

    /// The member's target, unless it is what was last written.
    func targetRecord(_ group: ConsumerGroup, memberId: String) -> CoordinatorRecord? {
        let value = InternalTopic.encode(
            ConsumerGroupTargetAssignmentMemberValue(
                topicPartitions: byTopicId(group.targetAssignment[memberId] ?? [:]).map { .init(topicId: $0.0, partitions: $0.1) }),
            version: 0, messageVersion: 0)
        guard group.writtenTargets[memberId] != value else { return nil }
        group.writtenTargets[memberId] = value
        return .init(key: OffsetsTopic.targetAssignmentMemberKey(group.groupId, memberId), value: value)
    }

    /// A departed member's records, deleted in Kafka's order.
    func memberTombstones(_ memberId: String, in group: ConsumerGroup) -> [CoordinatorRecord] {
        group.writtenTargets[memberId] = nil
        return [
            .init(key: OffsetsTopic.currentAssignmentKey(group.groupId, memberId), value: nil),
            .init(key: OffsetsTopic.targetAssignmentMemberKey(group.groupId, memberId), value: nil),
            .init(key: OffsetsTopic.consumerMemberKey(group.groupId, memberId), value: nil),
        ]
    }

    /// Applies a KIP-848 record (key versions 5-8) to its group. False when undecodable.
    func replayConsumerRecord(keyVersion: Int16, key keyReader: inout ByteReader, value: [UInt8]?) -> Bool {
        var valueReader = ByteReader(value ?? [])
        if value != nil { guard (try? valueReader.readInt16()) != nil else { return false } }
        let groupId: String
        let memberId: String?
        switch keyVersion {
        case OffsetsTopic.consumerGroupMemberKeyVersion:
            guard let key = try? ConsumerGroupMemberMetadataKey(from: &keyReader, version: 0) else { return false }
            (groupId, memberId) = (key.groupId, key.memberId)
        case OffsetsTopic.consumerGroupTargetAssignmentMetadataKeyVersion:
            guard let key = try? ConsumerGroupTargetAssignmentMetadataKey(from: &keyReader, version: 0) else { return false }
            (groupId, memberId) = (key.groupId, nil)
        case OffsetsTopic.consumerGroupTargetAssignmentMemberKeyVersion:
            guard let key = try? ConsumerGroupTargetAssignmentMemberKey(from: &keyReader, version: 0) else { return false }
            (groupId, memberId) = (key.groupId, key.memberId)
        case OffsetsTopic.consumerGroupCurrentAssignmentKeyVersion:
            guard let key = try? ConsumerGroupCurrentMemberAssignmentKey(from: &keyReader, version: 0) else { return false }
            (groupId, memberId) = (key.groupId, key.memberId)
        default:
            return true
        }
        return withSlot(groupId, create: value != nil) { slot, now, _ -> Bool in
            if slot.consumer == nil {
                guard value != nil else { return true }
                slot.classic = nil
                slot.consumer = ConsumerGroup(groupId: groupId, now: now)
            }
            let group = slot.consumer!
            group.isRestored = true
            func member(_ id: String) -> ConsumerMember {
                if let existing = group.members[id] { return existing }
                let created = ConsumerMember(
                    memberId: id, clientId: "", clientHost: "",
                    heartbeatDeadline: now + Int64(configuration.consumerSessionTimeoutMilliseconds))
                group.members[id] = created
                return created
            }
            switch (keyVersion, memberId, value) {
            case (OffsetsTopic.consumerGroupMemberKeyVersion, let id?, nil):
                group.members[id] = nil
            case (OffsetsTopic.consumerGroupMemberKeyVersion, let id?, let bytes?):
                guard let stored = try? ConsumerGroupMemberMetadataValue(from: &valueReader, version: 0) else { return false }
                let restored = member(id)
                restored.instanceId = stored.instanceId
                restored.rackId = stored.rackId
                restored.clientId = stored.clientId
                restored.clientHost = stored.clientHost
                restored.subscribedTopicNames = stored.subscribedTopicNames
                restored.subscribedTopicRegex = stored.subscribedTopicRegex
                restored.rebalanceTimeoutMilliseconds = stored.rebalanceTimeoutMs
                restored.serverAssignor = stored.serverAssignor
                restored.writtenMetadata = bytes
            case (OffsetsTopic.consumerGroupTargetAssignmentMetadataKeyVersion, _, let bytes):
                guard bytes != nil else { return true }
                guard let stored = try? ConsumerGroupTargetAssignmentMetadataValue(from: &valueReader, version: 0) else { return false }
                group.assignmentEpoch = stored.assignmentEpoch
            case (OffsetsTopic.consumerGroupTargetAssignmentMemberKeyVersion, let id?, nil):
                group.targetAssignment[id] = nil
                group.writtenTargets[id] = nil
            case (OffsetsTopic.consumerGroupTargetAssignmentMemberKeyVersion, let id?, let bytes?):
                guard let stored = try? ConsumerGroupTargetAssignmentMemberValue(from: &valueReader, version: 0) else { return false }
                group.targetAssignment[id] = byTopicName(stored.topicPartitions.map { ($0.topicId, $0.partitions) })
                group.writtenTargets[id] = bytes
            case (OffsetsTopic.consumerGroupCurrentAssignmentKeyVersion, let id?, nil):
                group.members[id]?.assigned = [:]
            case (OffsetsTopic.consumerGroupCurrentAssignmentKeyVersion, let id?, let bytes?):
                guard let stored = try? ConsumerGroupCurrentMemberAssignmentValue(from: &valueReader, version: 0) else { return false }
                let restored = member(id)
                restored.memberEpoch = stored.memberEpoch
                restored.previousMemberEpoch = stored.previousMemberEpoch
                restored.reconciliation = MemberReconciliation(rawValue: stored.state) ?? .stable
                restored.assigned = byTopicName(stored.assignedPartitions.map { ($0.topicId, $0.partitions) })
                restored.partitionsPendingRevocation = byTopicName(stored.partitionsPendingRevocation.map { ($0.topicId, $0.partitions) })
                restored.lastSentAssignment = restored.assigned
                restored.writtenAssignment = bytes
            default:
                break
            }
            return true
        } ?? true
    }
}
