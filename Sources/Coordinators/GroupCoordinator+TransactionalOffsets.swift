// Offsets committed inside a transaction (TxnOffsetCommit): written to __consumer_offsets
// as the producer's transactional records, held pending until the transaction's marker
// reaches that partition, then committed or dropped. OffsetFetch with require_stable
// answers UNSTABLE_OFFSET_COMMIT for a partition with one pending.

import KafkaProtocol
import KafkaWire

extension GroupCoordinator {
    /// TxnOffsetCommit: one error per offset, in order. `generationId` -1 skips the member
    /// checks (versions before 3, and producers outside a group).
    public func commitTransactionalOffsets(
        groupId: String, producerId: Int64, producerEpoch: Int16, generationId: Int32,
        memberId: String, groupInstanceId: String?, offsets: [OffsetCommitInput]
    ) -> [ErrorCode] {
        guard !groupId.isEmpty else { return offsets.map { _ in .invalidGroupId } }
        return withSlot(groupId, create: true) { slot, now, _ -> [ErrorCode] in
            if generationId >= 0 || !memberId.isEmpty,
                let error = validateTransactionalCommit(
                    slot, generationId: generationId, memberId: memberId, groupInstanceId: groupInstanceId)
            {
                if !slot.hasGroup { removeIfUnused(slot) }
                return offsets.map { _ in error }
            }
            slot.ensureGroup(now: now)
            let (errors, records, accepted) = offsetCommits(offsets, group: groupId, now: now, expireTimestamp: nil)
            if !records.isEmpty {
                do {
                    try log.append(records, partition: slot.offsetsPartition, now: now, producer: (producerId, producerEpoch))
                } catch {
                    // The log fences an epoch a transaction marker has moved past.
                    let fenced = if case CoordinatorWriteError.fencedProducerEpoch = error { true } else { false }
                    return errors.map { $0 == .none ? (fenced ? .invalidProducerEpoch : .coordinatorNotAvailable) : $0 }
                }
            }
            for (partition, committed) in accepted { slot.pendingTransactionalOffsets[producerId, default: [:]][partition] = committed }
            return errors
        } ?? offsets.map { _ in .coordinatorNotAvailable }
    }

    private func validateTransactionalCommit(_ slot: GroupSlot, generationId: Int32, memberId: String, groupInstanceId: String?)
        -> ErrorCode?
    {
        if let group = slot.consumer {
            guard let member = group.members[memberId] else { return .unknownMemberId }
            return generationId == member.memberEpoch ? nil : .illegalGeneration
        }
        guard let group = slot.classic else { return .illegalGeneration }
        return validateMember(group, memberId: memberId, groupInstanceId: groupInstanceId, generationId: generationId)
    }

    /// A transaction marker reached `offsetsPartition`: the producer's pending offsets of
    /// every group there are committed or dropped.
    public func completeTransaction(producerId: Int64, offsetsPartition: Int32, commit: Bool) {
        for slot in allSlots where slot.offsetsPartition == offsetsPartition {
            _ = withSlot(slot.groupId, create: false) { slot, _, _ in
                guard let pending = slot.pendingTransactionalOffsets.removeValue(forKey: producerId) else { return }
                // A plain commit written after the transactional one stays (Kafka keeps the
                // record later in the log).
                if commit { slot.offsets.merge(pending) { existing, new in existing.writeOrder > new.writeOrder ? existing : new } }
                if !commit { removeIfUnused(slot) }
            }
        }
    }

    /// Start-up replay of a transactional batch's record in __consumer_offsets.
    public func replayTransactional(producerId: Int64, key: [UInt8], value: [UInt8]?) {
        var reader = ByteReader(key)
        guard let version = try? reader.readInt16(), version == 0 || version == 1,
            let decoded = try? OffsetCommitKey(from: &reader, version: 0), let value
        else { return }
        var valueReader = ByteReader(value)
        guard let valueVersion = try? valueReader.readInt16(), OffsetCommitValue.validVersions.contains(valueVersion),
            let stored = try? OffsetCommitValue(from: &valueReader, version: valueVersion)
        else { return }
        _ = withSlot(decoded.group, create: true) { slot, now, _ in
            slot.ensureGroup(now: now)
            var committed = CommittedOffset(
                offset: stored.offset, leaderEpoch: stored.leaderEpoch, metadata: stored.metadata,
                commitTimestamp: stored.commitTimestamp)
            committed.writeOrder = nextWriteOrder()
            slot.pendingTransactionalOffsets[producerId, default: [:]][TopicPartition(topic: decoded.topic, partition: decoded.partition)] =
                committed
        }
    }
}
