// Committed offsets on the coordinator: OffsetCommit with Kafka's generation (classic) or
// member-epoch (KIP-848) checks, OffsetFetch, OffsetDelete, and offsets retention.

import KafkaProtocol
import KafkaWire
import SystemCalls

public struct OffsetCommitInput: Sendable {
    public var partition: TopicPartition
    public var offset: Int64
    public var leaderEpoch: Int32
    public var metadata: String?

    public init(partition: TopicPartition, offset: Int64, leaderEpoch: Int32, metadata: String?) {
        self.partition = partition
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
    }
}

extension GroupCoordinator {
    /// Commits `offsets` for the group; returns one error per offset, in order.
    /// `retentionMilliseconds` is OffsetCommit v2-4's retention time (-1: the broker's).
    /// `apiVersion` matters for an unknown group: v9+ (KIP-848) says GROUP_ID_NOT_FOUND.
    public func commitOffsets(
        groupId: String, generationIdOrMemberEpoch: Int32, memberId: String, groupInstanceId: String?,
        retentionMilliseconds: Int64, apiVersion: Int16, offsets: [OffsetCommitInput]
    ) -> [ErrorCode] {
        guard !groupId.isEmpty else { return offsets.map { _ in .invalidGroupId } }
        let simpleCommit = generationIdOrMemberEpoch < 0
        let result = withSlot(groupId, create: simpleCommit) { slot, now, _ -> [ErrorCode] in
            if let error = validateCommit(
                slot, generationIdOrMemberEpoch: generationIdOrMemberEpoch, memberId: memberId,
                groupInstanceId: groupInstanceId, now: now)
            {
                if !slot.hasGroup { removeIfUnused(slot) }
                return offsets.map { _ in error }
            }
            slot.ensureGroup(now: now)
            let (errors, records, accepted) = offsetCommits(
                offsets, group: groupId, now: now,
                expireTimestamp: retentionMilliseconds >= 0 ? now.clampedAdding(retentionMilliseconds) : nil)
            guard persist(records, for: slot, now: now) else {
                return errors.map { $0 == .none ? .coordinatorNotAvailable : $0 }
            }
            for (partition, committed) in accepted { slot.offsets[partition] = committed }
            return errors
        }
        return result ?? offsets.map { _ in apiVersion >= 9 ? .groupIdNotFound : .illegalGeneration }
    }

    /// The commits of `offsets` with their records, one error per offset: metadata over
    /// offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE, the rest are accepted.
    func offsetCommits(_ offsets: [OffsetCommitInput], group: String, now: Int64, expireTimestamp: Int64?)
        -> (errors: [ErrorCode], records: [CoordinatorRecord], accepted: [(TopicPartition, CommittedOffset)])
    {
        var errors: [ErrorCode] = []
        var records: [CoordinatorRecord] = []
        var accepted: [(TopicPartition, CommittedOffset)] = []
        for input in offsets {
            if (input.metadata?.utf8.count ?? 0) > configuration.offsetMetadataMaximumBytes {
                errors.append(.offsetMetadataTooLarge)
                continue
            }
            var committed = CommittedOffset(
                offset: input.offset, leaderEpoch: input.leaderEpoch, metadata: input.metadata ?? "",
                commitTimestamp: now, expireTimestamp: expireTimestamp)
            committed.writeOrder = nextWriteOrder()
            records.append(
                OffsetsTopic.offsetCommit(
                    group: group, topic: input.partition.topic, partition: input.partition.partition, offset: committed))
            accepted.append((input.partition, committed))
            errors.append(.none)
        }
        return (errors, records, accepted)
    }

    private func validateCommit(_ slot: GroupSlot, generationIdOrMemberEpoch: Int32, memberId: String, groupInstanceId: String?, now: Int64)
        -> ErrorCode?
    {
        if let group = slot.consumer {
            if generationIdOrMemberEpoch < 0 && memberId.isEmpty && group.members.isEmpty { return nil }
            guard let member = group.members[memberId] else { return .unknownMemberId }
            return validateMemberEpoch(generationIdOrMemberEpoch, of: member)
        }
        guard let group = slot.classic else { return nil }
        if group.state == .dead { return .coordinatorNotAvailable }
        if generationIdOrMemberEpoch < 0 && group.state == .empty { return nil }
        if let error = validateMember(group, memberId: memberId, groupInstanceId: groupInstanceId, generationId: generationIdOrMemberEpoch)
        {
            return error
        }
        if group.state == .completingRebalance { return .rebalanceInProgress }
        group.members[memberId]!.restartSession(now: now)  // validateMember found it
        return nil
    }

    /// KIP-848: a newer epoch than the member's is fenced, an older one is stale.
    func validateMemberEpoch(_ epoch: Int32, of member: ConsumerMember) -> ErrorCode? {
        if epoch > member.memberEpoch { return .fencedMemberEpoch }
        if epoch < member.memberEpoch { return .staleMemberEpoch }
        return nil
    }

    /// The group's committed offsets for `partitions` (nil: all of them). A partition with
    /// no commit is absent from the result. For KIP-848 groups a given member id and epoch
    /// are checked (OffsetFetch v9+).
    public func fetchOffsets(groupId: String, partitions: [TopicPartition]?, memberId: String?, memberEpoch: Int32)
        -> (ErrorCode, [TopicPartition: CommittedOffset])
    {
        let (error, offsets, _) = fetchOffsets(
            groupId: groupId, partitions: partitions, memberId: memberId, memberEpoch: memberEpoch,
            requireStable: false)
        return (error, offsets)
    }

    /// With `requireStable`, also the partitions that have an offset pending in an open
    /// transaction (OffsetFetch answers UNSTABLE_OFFSET_COMMIT for them).
    public func fetchOffsets(groupId: String, partitions: [TopicPartition]?, memberId: String?, memberEpoch: Int32, requireStable: Bool)
        -> (ErrorCode, [TopicPartition: CommittedOffset], unstable: Set<TopicPartition>)
    {
        withSlot(groupId, create: false) { slot, _, _ -> (ErrorCode, [TopicPartition: CommittedOffset], unstable: Set<TopicPartition>) in
            let pending = requireStable ? Set(slot.pendingTransactionalOffsets.values.flatMap(\.keys)) : []
            let unstable = partitions.map { pending.intersection($0) } ?? pending
            if let group = slot.consumer, let memberId {
                guard let member = group.members[memberId] else { return (.unknownMemberId, [:], []) }
                if memberEpoch != member.memberEpoch { return (.staleMemberEpoch, [:], []) }
            }
            guard let partitions else { return (.none, slot.offsets, unstable) }
            var found: [TopicPartition: CommittedOffset] = [:]
            for partition in partitions { found[partition] = slot.offsets[partition] }
            return (.none, found, unstable)
        } ?? (.none, [:], [])
    }

    /// OffsetDelete: removes offsets of topics the group is not subscribed to. Returns the
    /// group's error and one error per partition.
    public func deleteOffsets(groupId: String, partitions: [TopicPartition]) -> (ErrorCode, [ErrorCode]) {
        withSlot(groupId, create: false) { slot, now, _ -> (ErrorCode, [ErrorCode]) in
            if slot.classic?.state == .dead { return (.groupIdNotFound, []) }
            let subscribed: Set<String>
            if let group = slot.consumer {
                subscribed = Set(group.members.values.flatMap { $0.resolvedSubscription })
            } else if let group = slot.classic, !group.isEmpty {
                guard group.protocolType == "consumer" else { return (.nonEmptyGroup, []) }
                subscribed = Set(group.orderedMembers.flatMap { Self.subscribedTopics(in: $0.metadata(for: group.protocolName)) })
            } else {
                subscribed = []
            }
            var errors: [ErrorCode] = []
            var records: [CoordinatorRecord] = []
            var removed: [TopicPartition] = []
            for partition in partitions {
                if subscribed.contains(partition.topic) {
                    errors.append(.groupSubscribedToTopic)
                    continue
                }
                errors.append(.none)
                if slot.offsets[partition] != nil {
                    removed.append(partition)
                    records.append(
                        OffsetsTopic.offsetCommit(group: groupId, topic: partition.topic, partition: partition.partition, offset: nil))
                }
            }
            guard persist(records, for: slot, now: now) else { return (.coordinatorNotAvailable, []) }
            for partition in removed { slot.offsets[partition] = nil }
            return (.none, errors)
        } ?? (.groupIdNotFound, [])
    }

    /// The topics of a classic consumer member's subscription (ConsumerProtocolSubscription).
    static func subscribedTopics(in metadata: [UInt8]) -> [String] {
        var reader = ByteReader(metadata)
        guard let version = try? reader.readInt16(),
            let subscription = try? ConsumerProtocolSubscription(
                from: &reader, version: min(max(version, 0), ConsumerProtocolSubscription.validVersions.upperBound))
        else { return [] }
        return subscription.topics
    }

    /// Drops offsets past retention in an empty group (Kafka: offsets.retention.minutes after
    /// the group became empty, or the commit's own expiry), then the group once it has none.
    func expireOffsets(_ slot: GroupSlot, now: Int64) {
        guard slot.isEmpty else { return }
        let emptySince = slot.classic?.stateTimestamp ?? slot.consumer?.stateTimestamp ?? now
        let expired = slot.offsets.filter { _, committed in
            if let expiry = committed.expireTimestamp { return now >= expiry }
            return now - max(committed.commitTimestamp, emptySince) >= configuration.offsetsRetentionMilliseconds
        }.map(\.key)
        if !expired.isEmpty {
            let records = expired.map {
                OffsetsTopic.offsetCommit(group: slot.groupId, topic: $0.topic, partition: $0.partition, offset: nil)
            }
            guard persist(records, for: slot, now: now) else { return }
            for partition in expired { slot.offsets[partition] = nil }
        }
        if slot.offsets.isEmpty, slot.classic?.state ?? .empty == .empty {
            // Nothing left: the group goes (Kafka writes its metadata tombstone).
            guard persist(tombstones(for: slot), for: slot, now: now) else { return }
            removeIfUnused(slot)
        }
    }
}
