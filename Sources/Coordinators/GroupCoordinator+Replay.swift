// Start-up: the coordinator's state rebuilt by replaying __consumer_offsets in offset
// order (later records win, a null value deletes). Records of kinds we do not keep
// (regex resolutions, share and streams groups) are skipped.

import KafkaProtocol
import KafkaWire

extension GroupCoordinator {
    /// Applies one record of __consumer_offsets. Returns false when it cannot be decoded.
    @discardableResult
    public func replay(key: [UInt8], value: [UInt8]?) -> Bool {
        var keyReader = ByteReader(key)
        guard let keyVersion = try? keyReader.readInt16() else { return false }
        var valueReader = ByteReader(value ?? [])
        let valueVersion = value == nil ? nil : try? valueReader.readInt16()
        if value != nil && valueVersion == nil { return false }
        let now = clock()
        switch keyVersion {
        case 0, 1:
            guard let decoded = try? OffsetCommitKey(from: &keyReader, version: 0) else { return false }
            let partition = TopicPartition(topic: decoded.topic, partition: decoded.partition)
            guard let valueVersion else {
                _ = withSlot(decoded.group, create: false) { slot, _, _ in
                    slot.offsets[partition] = nil
                    removeIfUnused(slot)
                }
                return true
            }
            guard OffsetCommitValue.validVersions.contains(valueVersion),
                let committed = try? OffsetCommitValue(from: &valueReader, version: valueVersion)
            else { return false }
            _ = withSlot(decoded.group, create: true) { slot, now, _ in
                slot.ensureGroup(now: now)
                var restored = CommittedOffset(
                    offset: committed.offset, leaderEpoch: committed.leaderEpoch, metadata: committed.metadata,
                    commitTimestamp: committed.commitTimestamp,
                    expireTimestamp: committed.expireTimestamp >= 0 ? committed.expireTimestamp : nil)
                restored.writeOrder = nextWriteOrder()
                slot.offsets[partition] = restored
            }
            return true
        case OffsetsTopic.groupMetadataKeyVersion:
            guard let decoded = try? GroupMetadataKey(from: &keyReader, version: 0) else { return false }
            guard let valueVersion else {
                _ = withSlot(decoded.group, create: false) { slot, _, _ in
                    slot.classic = nil
                    removeIfUnused(slot)
                }
                return true
            }
            guard GroupMetadataValue.validVersions.contains(valueVersion),
                let metadata = try? GroupMetadataValue(from: &valueReader, version: valueVersion)
            else { return false }
            _ = withSlot(decoded.group, create: true) { slot, _, _ in
                slot.consumer = nil
                slot.classic = ClassicGroup(restoring: metadata, groupId: decoded.group, now: now)
            }
            return true
        case OffsetsTopic.consumerGroupMetadataKeyVersion:
            guard let decoded = try? ConsumerGroupMetadataKey(from: &keyReader, version: 0) else { return false }
            guard let valueVersion else {
                _ = withSlot(decoded.groupId, create: false) { slot, _, _ in
                    slot.consumer = nil
                    removeIfUnused(slot)
                }
                return true
            }
            guard let metadata = try? ConsumerGroupMetadataValue(from: &valueReader, version: valueVersion) else { return false }
            _ = withSlot(decoded.groupId, create: true) { slot, now, _ in
                slot.classic = nil
                let group = slot.consumer ?? ConsumerGroup(groupId: decoded.groupId, now: now)
                group.groupEpoch = metadata.epoch
                group.assignmentEpoch = metadata.epoch
                group.isRestored = true
                slot.consumer = group
            }
            return true
        case OffsetsTopic.consumerGroupMemberKeyVersion...OffsetsTopic.consumerGroupCurrentAssignmentKeyVersion:
            return replayConsumerRecord(keyVersion: keyVersion, key: &keyReader, value: value)
        default:
            return true
        }
    }
}

extension ClassicGroup {
    /// A classic group as its last GroupMetadata record left it: stable with its members
    /// (who must heartbeat within their session from now), or empty.
    convenience init(restoring metadata: GroupMetadataValue, groupId: String, now: Int64) {
        self.init(groupId: groupId, now: metadata.currentStateTimestamp >= 0 ? metadata.currentStateTimestamp : now)
        generationId = metadata.generation
        protocolType = metadata.protocolType.isEmpty && metadata.members.isEmpty ? nil : metadata.protocolType
        protocolName = metadata.protocol
        for stored in metadata.members {
            let input = JoinGroupInput(
                groupId: groupId, memberId: stored.memberId, groupInstanceId: stored.groupInstanceId,
                clientId: stored.clientId, clientHost: stored.clientHost, protocolType: metadata.protocolType,
                protocols: [(metadata.protocol ?? "", stored.subscription)],
                sessionTimeoutMilliseconds: stored.sessionTimeout,
                rebalanceTimeoutMilliseconds: stored.rebalanceTimeout >= 0 ? stored.rebalanceTimeout : stored.sessionTimeout,
                requireKnownMemberId: false)
            let member = ClassicMember(memberId: stored.memberId, input: input, now: now)
            member.assignment = stored.assignment
            add(member)
        }
        leaderId = metadata.leader.flatMap { members[$0] == nil ? nil : $0 } ?? leaderId
        state = isEmpty ? .empty : .stable
    }
}
