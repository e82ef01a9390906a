// The operator's view of groups: DescribeGroups, ConsumerGroupDescribe's data, ListGroups
// with state and type filters, and DeleteGroups (empty groups only).

import KafkaProtocol

public struct DescribedClassicGroup: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var metadata: [UInt8]
        public var assignment: [UInt8]
    }

    public var error: ErrorCode = .none
    public var state: String
    public var protocolType: String
    public var protocolName: String
    public var members: [Member]
}

public struct ListedGroup: Sendable, Equatable {
    public var groupId: String
    public var protocolType: String
    public var state: String
    public var type: String
}

extension GroupCoordinator {
    /// DescribeGroups for one group; nil when there is no such group.
    public func describeClassicGroup(_ groupId: String) -> DescribedClassicGroup? {
        withSlot(groupId, create: false) { slot, _, _ -> DescribedClassicGroup? in
            guard let group = slot.classic else {
                guard slot.consumer != nil else { return nil }
                return DescribedClassicGroup(
                    error: .groupIdNotFound, state: ClassicGroupState.dead.rawValue, protocolType: "", protocolName: "", members: [])
            }
            // Kafka shows member metadata and assignments only once the group is stable.
            let stable = group.state == .stable
            return DescribedClassicGroup(
                state: group.state.rawValue, protocolType: group.protocolType ?? "", protocolName: stable ? group.protocolName ?? "" : "",
                members: group.orderedMembers.map {
                    .init(
                        memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId, clientHost: $0.clientHost,
                        metadata: stable ? $0.metadata(for: group.protocolName) : [], assignment: stable ? $0.assignment : [])
                })
        } ?? nil
    }

    /// The members of a listed group, classic or consumer (KIP-848).
    public func memberCount(of group: ListedGroup) -> Int {
        group.type == "consumer"
            ? describeConsumerGroup(group.groupId)?.members.count ?? 0 : describeClassicGroup(group.groupId)?.members.count ?? 0
    }

    /// ListGroups: states and types compare case-insensitively; empty filters match all.
    public func listGroups(states: [String], types: [String]) -> [ListedGroup] {
        let wantedStates = Set(states.map { $0.lowercased() })
        let wantedTypes = Set(types.map { $0.lowercased() })
        return allSlots.compactMap { slot in
            withSlot(slot.groupId, create: false) { slot, _, _ -> ListedGroup? in
                let listed = ListedGroup(
                    groupId: slot.groupId, protocolType: slot.consumer != nil ? "consumer" : slot.classic?.protocolType ?? "",
                    state: slot.stateName, type: slot.typeName)
                guard wantedStates.isEmpty || wantedStates.contains(listed.state.lowercased()),
                    wantedTypes.isEmpty || wantedTypes.contains(listed.type)
                else { return nil }
                return listed
            } ?? nil
        }.sorted { $0.groupId < $1.groupId }
    }

    /// DeleteGroups for one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, or deleted with
    /// tombstones for its offsets and metadata.
    public func deleteGroup(_ groupId: String) -> ErrorCode {
        guard !groupId.isEmpty else { return .invalidGroupId }
        return withSlot(groupId, create: false) { slot, now, _ -> ErrorCode in
            if slot.classic?.state == .dead { return .groupIdNotFound }
            guard slot.isEmpty, slot.classic?.state ?? .empty == .empty else { return .nonEmptyGroup }
            var records = slot.offsets.keys.sorted().map {
                OffsetsTopic.offsetCommit(group: groupId, topic: $0.topic, partition: $0.partition, offset: nil)
            }
            records += tombstones(for: slot)
            guard persist(records, for: slot, now: now) else { return .coordinatorNotAvailable }
            slot.offsets = [:]
            slot.consumer?.members = [:]
            slot.consumer = nil
            removeIfUnused(slot)
            return .none
        } ?? .groupIdNotFound
    }

    /// Tombstones for the group's own records (not its offsets).
    func tombstones(for slot: GroupSlot) -> [CoordinatorRecord] {
        var records = [CoordinatorRecord(key: OffsetsTopic.groupMetadataKey(slot.groupId), value: nil)]
        if slot.consumer != nil { records += consumerGroupTombstones(slot.groupId) }
        return records
    }

    /// Tombstones for a KIP-848 group's own records (it has no members left).
    func consumerGroupTombstones(_ groupId: String) -> [CoordinatorRecord] {
        [
            CoordinatorRecord(key: OffsetsTopic.targetAssignmentMetadataKey(groupId), value: nil),
            CoordinatorRecord(key: OffsetsTopic.consumerGroupMetadataKey(groupId), value: nil),
        ]
    }
}
