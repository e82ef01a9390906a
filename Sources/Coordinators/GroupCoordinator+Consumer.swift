// KIP-848's ConsumerGroupHeartbeat on the coordinator: join, leave, subscription changes,
// the target assignment and each member's reconciliation (Kafka's CurrentAssignmentBuilder:
// revoke first, then receive what others have released), member expiry, and the data of
// ConsumerGroupDescribe.

import KafkaProtocol
import KafkaWire
import Logging
import SystemCalls

/// The topics as groups see them; the broker implements it over its topic registry.
public protocol GroupTopicCatalog: Sendable {
    func topic(named name: String) -> (id: Uuid, partitions: Int32)?
    func topicName(id: Uuid) -> String?
    /// Every topic name clients may subscribe to by regex (internal topics excluded).
    func subscribableTopicNames() -> [String]
}

public struct ConsumerHeartbeatInput: Sendable {
    public var groupId: String
    public var memberId: String
    public var memberEpoch: Int32
    public var instanceId: String?
    public var rackId: String?
    public var rebalanceTimeoutMilliseconds: Int32
    public var subscribedTopicNames: [String]?
    public var subscribedTopicRegex: String?
    public var serverAssignor: String?
    /// What the member owns now, by topic id; nil when unchanged since the last heartbeat.
    public var ownedPartitions: [(topicId: Uuid, partitions: [Int32])]?
    public var clientId: String
    public var clientHost: String

    public init(
        groupId: String, memberId: String, memberEpoch: Int32, instanceId: String?, rackId: String?,
        rebalanceTimeoutMilliseconds: Int32, subscribedTopicNames: [String]?, subscribedTopicRegex: String?,
        serverAssignor: String?, ownedPartitions: [(topicId: Uuid, partitions: [Int32])]?, clientId: String, clientHost: String
    ) {
        self.groupId = groupId
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.instanceId = instanceId
        self.rackId = rackId
        self.rebalanceTimeoutMilliseconds = rebalanceTimeoutMilliseconds
        self.subscribedTopicNames = subscribedTopicNames
        self.subscribedTopicRegex = subscribedTopicRegex
        self.serverAssignor = serverAssignor
        self.ownedPartitions = ownedPartitions
        self.clientId = clientId
        self.clientHost = clientHost
    }
}

public struct ConsumerHeartbeatOutcome: Sendable, Equatable {
    public var error: ErrorCode = .none
    public var errorMessage: String?
    public var memberId: String?
    public var memberEpoch: Int32 = -1
    public var heartbeatIntervalMilliseconds: Int32 = 0
    /// The member's full assignment, when it changed since the last response.
    public var assignment: [TopicIdPartitions]?

    static func failed(_ error: ErrorCode, _ message: String) -> ConsumerHeartbeatOutcome {
        ConsumerHeartbeatOutcome(error: error, errorMessage: message)
    }
}

public struct TopicIdPartitions: Sendable, Equatable {
    public var topicId: Uuid
    public var topicName: String
    public var partitions: [Int32]
}

public struct DescribedConsumerGroup: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var instanceId: String?
        public var rackId: String?
        public var memberEpoch: Int32
        public var clientId: String
        public var clientHost: String
        public var subscribedTopicNames: [String]
        public var subscribedTopicRegex: String?
        public var assignment: [TopicIdPartitions]
        public var targetAssignment: [TopicIdPartitions]
    }

    public var error: ErrorCode = .none
    public var errorMessage: String?
    public var state: String
    public var groupEpoch: Int32
    public var assignmentEpoch: Int32
    public var assignorName: String
    public var members: [Member]
}

extension GroupCoordinator {
    public func consumerGroupHeartbeat(_ input: ConsumerHeartbeatInput) -> ConsumerHeartbeatOutcome {
        if let error = validate(input) { return error }
        let leaving = input.memberEpoch < 0
        return withSlot(input.groupId, create: input.memberEpoch == 0) { slot, now, _ -> ConsumerHeartbeatOutcome in
            if slot.consumer == nil {
                if let classic = slot.classic, !classic.isEmpty || !classic.pendingMembers.isEmpty {
                    return .failed(.groupIdNotFound, "Group \(input.groupId) is not a consumer group.")
                }
                guard input.memberEpoch == 0 else {
                    return .failed(.unknownMemberId, "Member \(input.memberId) is not in group \(input.groupId).")
                }
                // A new group, or an empty classic one (offsets only) that becomes a consumer group.
                slot.classic = nil
                slot.consumer = ConsumerGroup(groupId: input.groupId, now: now)
            }
            let group = slot.consumer!
            if leaving {
                guard let member = group.members[input.memberId] else {
                    if group.members.isEmpty && slot.offsets.isEmpty { removeIfUnused(slot) }
                    return .failed(.unknownMemberId, "Member \(input.memberId) is not in group \(input.groupId).")
                }
                if input.memberEpoch == Self.staticLeaveEpoch, member.instanceId != nil {
                    // A static member going away for a while keeps its partitions until its
                    // session ends; the same instance id rejoining takes them back.
                    if member.memberEpoch != Self.staticLeaveEpoch { member.previousMemberEpoch = member.memberEpoch }
                    member.memberEpoch = Self.staticLeaveEpoch
                    member.heartbeatDeadline = now + Int64(configuration.consumerSessionTimeoutMilliseconds)
                    _ = persist(memberRecords(member, in: group), for: slot, now: now)
                } else {
                    _ = persist(removeConsumerMember(member, from: group, now: now), for: slot, now: now)
                }
                return ConsumerHeartbeatOutcome(memberId: input.memberId, memberEpoch: input.memberEpoch)
            }
            // A pattern whose resolution was refused fails every heartbeat that keeps it.
            let pattern =
                input.subscribedTopicRegex
                ?? (input.subscribedTopicNames == nil ? group.members[input.memberId]?.subscribedTopicRegex : nil)
            if let pattern, let refusal = regexResolutions.refusal(for: pattern) {
                return .failed(.invalidRegularExpression, refusal)
            }
            let member: ConsumerMember
            switch join(input, group: group, now: now) {
            case .failure(let failure):
                if group.members.isEmpty && slot.offsets.isEmpty && group.groupEpoch == 0 {
                    slot.consumer = nil
                    removeIfUnused(slot)
                }
                return failure.outcome
            case .success(let found): member = found
            }
            member.heartbeatDeadline = now + Int64(configuration.consumerSessionTimeoutMilliseconds)
            var records = takeOverStaticMember(member, in: group)
            if let names = input.subscribedTopicNames { member.subscribedTopicNames = names }
            if input.subscribedTopicRegex != nil || input.subscribedTopicNames != nil {
                member.subscribedTopicRegex = input.subscribedTopicRegex
            }
            if let assignor = input.serverAssignor { member.serverAssignor = assignor }
            if input.rebalanceTimeoutMilliseconds >= 0 { member.rebalanceTimeoutMilliseconds = input.rebalanceTimeoutMilliseconds }
            if input.rackId != nil { member.rackId = input.rackId }
            member.clientId = input.clientId
            member.clientHost = input.clientHost
            records += updateTargetAssignment(group, now: now)
            let owned = input.ownedPartitions.map { resolve($0) }
            reconcile(member, in: group, owned: owned, now: now)
            records += memberRecords(member, in: group)
            // A refused write leaves the group running from memory; the log says why.
            _ = persist(records, for: slot, now: now)
            var outcome = ConsumerHeartbeatOutcome(
                memberId: member.memberId, memberEpoch: member.memberEpoch,
                heartbeatIntervalMilliseconds: configuration.consumerHeartbeatIntervalMilliseconds)
            if input.memberEpoch == 0 || member.lastSentAssignment != member.assigned || (owned != nil && owned != member.assigned) {
                outcome.assignment = describe(member.assigned)
                member.lastSentAssignment = member.assigned
            }
            return outcome
        } ?? .failed(.unknownMemberId, "Group \(input.groupId) does not exist.")
    }

    private func validate(_ input: ConsumerHeartbeatInput) -> ConsumerHeartbeatOutcome? {
        if input.groupId.isEmpty { return .failed(.invalidRequest, "GroupId can't be empty.") }
        if input.memberId.isEmpty && input.memberEpoch != 0 { return .failed(.invalidRequest, "MemberId can't be empty.") }
        if input.memberEpoch == 0 {
            if input.rebalanceTimeoutMilliseconds < 0 {
                return .failed(.invalidRequest, "RebalanceTimeoutMs must be provided in first request.")
            }
            if input.ownedPartitions == nil { return .failed(.invalidRequest, "TopicPartitions must be empty when (re-)joining.") }
            if input.subscribedTopicNames == nil && input.subscribedTopicRegex == nil {
                return .failed(.invalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
            }
        }
        if let assignor = input.serverAssignor, !configuration.consumerAssignors.contains(assignor) {
            return .failed(
                .unsupportedAssignor,
                "ServerAssignor \(assignor) is not supported. Supported assignors: \(configuration.consumerAssignors.joined(separator: ", "))."
            )
        }
        if let regex = input.subscribedTopicRegex, (try? LinearTimeRegex(regex)) == nil {
            return .failed(.invalidRegularExpression, "SubscribedTopicRegex \(regex) is not a valid regular expression.")
        }
        return nil
    }

    private struct HeartbeatFailure: Error {
        let outcome: ConsumerHeartbeatOutcome
        init(_ error: ErrorCode, _ message: String) { outcome = .failed(error, message) }
    }

    /// Finds or admits the member the heartbeat is from, with KIP-848's epoch checks.
    private func join(_ input: ConsumerHeartbeatInput, group: ConsumerGroup, now: Int64) -> Result<ConsumerMember, HeartbeatFailure> {
        if input.memberEpoch == 0 {
            if let existing = group.members[input.memberId] {
                // A rejoin: the member starts over and its partitions are released.
                existing.assigned = [:]
                existing.partitionsPendingRevocation = [:]
                existing.memberEpoch = 0
                existing.reconciliation = .stable
                existing.revocationDeadline = nil
                existing.lastSentAssignment = nil
                return .success(existing)
            }
            if let instanceId = input.instanceId, let holder = group.member(withInstanceId: instanceId),
                holder.memberEpoch != Self.staticLeaveEpoch
            {
                return .failure(
                    HeartbeatFailure(.unreleasedInstanceId, "Static member \(instanceId) is still held by member \(holder.memberId)."))
            }
            guard group.members.count < configuration.consumerMaximumGroupSize else {
                return .failure(
                    HeartbeatFailure(
                        .groupMaxSizeReached,
                        "The consumer group has reached its maximum capacity of \(configuration.consumerMaximumGroupSize) members."))
            }
            let member = ConsumerMember(
                memberId: input.memberId.isEmpty ? Uuid.random().base64 : input.memberId,
                clientId: input.clientId, clientHost: input.clientHost, heartbeatDeadline: now)
            member.instanceId = input.instanceId
            group.members[member.memberId] = member
            return .success(member)
        }
        guard let member = group.members[input.memberId] else {
            return .failure(HeartbeatFailure(.unknownMemberId, "Member \(input.memberId) is not in group \(input.groupId)."))
        }
        if input.memberEpoch != member.memberEpoch {
            // The previous epoch is fine while the member owns nothing it should not
            // (the response that moved it on was lost).
            let owned = input.ownedPartitions.map { resolve($0) }
            let ownsOnlyAssigned =
                owned.map { $0.allSatisfy { topic, partitions in partitions.isSubset(of: member.assigned[topic] ?? []) } } ?? false
            guard input.memberEpoch == member.previousMemberEpoch && ownsOnlyAssigned else {
                return .failure(
                    HeartbeatFailure(
                        .fencedMemberEpoch,
                        "The consumer group member has a member epoch (\(input.memberEpoch)) different from the one known by the group coordinator (\(member.memberEpoch))."
                    ))
            }
        }
        return .success(member)
    }

    /// KIP-848's member epoch of a static member that left for now (-1 is a full leave).
    static let staticLeaveEpoch: Int32 = -2

    /// A joining member whose instance id belongs to a static member that left for now takes
    /// its place: its epoch, target and partitions, without a rebalance. Returns the records.
    func takeOverStaticMember(_ member: ConsumerMember, in group: ConsumerGroup) -> [CoordinatorRecord] {
        guard member.memberEpoch == 0, let instanceId = member.instanceId,
            let previous = group.members.values.first(where: {
                $0.instanceId == instanceId && $0.memberId != member.memberId && $0.memberEpoch == Self.staticLeaveEpoch
            })
        else { return [] }
        group.members[previous.memberId] = nil
        member.memberEpoch = previous.previousMemberEpoch
        member.previousMemberEpoch = previous.previousMemberEpoch
        member.assigned = previous.assigned
        member.reconciliation = previous.reconciliation
        member.subscribedTopicNames = previous.subscribedTopicNames
        member.subscribedTopicRegex = previous.subscribedTopicRegex
        member.serverAssignor = previous.serverAssignor
        group.targetAssignment[member.memberId] = group.targetAssignment.removeValue(forKey: previous.memberId)
        // The subscriptions are keyed by member id; the new id takes the old one's entry.
        group.lastSubscriptions[member.memberId] = group.lastSubscriptions.removeValue(forKey: previous.memberId)
        return memberTombstones(previous.memberId, in: group) + [targetRecord(group, memberId: member.memberId)].compactMap { $0 }
    }

    func resolve(_ owned: [(topicId: Uuid, partitions: [Int32])]) -> TopicAssignment {
        var result: TopicAssignment = [:]
        for entry in owned where !entry.partitions.isEmpty {
            if let name = topics.topicName(id: entry.topicId) { result[name, default: []].formUnion(entry.partitions) }
        }
        return result
    }

    private func describe(_ assignment: TopicAssignment) -> [TopicIdPartitions] {
        assignment.keys.sorted().compactMap { name in
            guard let topic = topics.topic(named: name), let partitions = assignment[name], !partitions.isEmpty else { return nil }
            return TopicIdPartitions(topicId: topic.id, topicName: name, partitions: partitions.sorted())
        }
    }

    /// Resolves subscriptions and, when membership, subscriptions or the subscribed topics'
    /// partition counts changed, bumps the group epoch and computes a new target assignment.
    /// Returns the records of what changed.
    func updateTargetAssignment(_ group: ConsumerGroup, now: Int64, force: Bool = false) -> [CoordinatorRecord] {
        var allTopics: [String]?
        var partitionCounts: [String: Int32] = [:]
        var subscriptions: [String: Set<String>] = [:]
        for member in group.members.values {
            var names = Set(member.subscribedTopicNames)
            if let pattern = member.subscribedTopicRegex {
                if allTopics == nil { allTopics = topics.subscribableTopicNames() }
                names.formUnion(regexResolutions.topics(matching: pattern, among: allTopics!))
            }
            var existing = Set<String>()
            for name in names {
                guard let topic = topics.topic(named: name) else { continue }
                partitionCounts[name] = topic.partitions
                existing.insert(name)
            }
            member.resolvedSubscription = existing.sorted()
            subscriptions[member.memberId] = existing
        }
        let assignor = preferredAssignor(group)
        if group.isRestored {
            // Replayed from __consumer_offsets: the stored target stands until something changes.
            group.isRestored = false
            group.lastSubscriptions = subscriptions
            group.subscribedTopicPartitions = partitionCounts
            group.assignorName = assignor
            if !force { return [] }
        }
        // Membership changes show as a different set of subscriptions.
        guard
            force || subscriptions != group.lastSubscriptions || partitionCounts != group.subscribedTopicPartitions
                || assignor != group.assignorName
        else { return [] }
        group.groupEpoch = group.groupEpoch.clampedAdding(1)
        group.subscribedTopicPartitions = partitionCounts
        group.lastSubscriptions = subscriptions
        group.assignorName = assignor
        group.targetAssignment = ServerAssignor.assign(
            assignor,
            AssignmentSpec(
                subscriptions: subscriptions, partitionCounts: partitionCounts, current: group.targetAssignment))
        group.assignmentEpoch = group.groupEpoch
        logger.debug(
            "group \(group.groupId): epoch \(group.groupEpoch), a new target assignment for \(subscriptions.count) member(s) by the \(assignor) assignor"
        )
        group.stateTimestamp = now
        return targetRecords(group)
    }

    /// The assignor most members ask for, else the broker's first.
    private func preferredAssignor(_ group: ConsumerGroup) -> String {
        var votes: [String: Int] = [:]
        for member in group.members.values { if let name = member.serverAssignor { votes[name, default: 0] += 1 } }
        return votes.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? configuration.consumerAssignors.first ?? "uniform"
    }

    /// Moves `member` towards its target: partitions to give up are revoked first (the
    /// epoch waits until the member confirms), then the free part of the target is
    /// assigned with the new epoch.
    func reconcile(_ member: ConsumerMember, in group: ConsumerGroup, owned: TopicAssignment?, now: Int64) {
        if member.reconciliation == .unrevokedPartitions {
            let stillOwned =
                owned.map { owned in
                    member.partitionsPendingRevocation.contains { topic, partitions in !(owned[topic] ?? []).isDisjoint(with: partitions) }
                } ?? true
            guard !stillOwned else { return }
            member.partitionsPendingRevocation = [:]
            member.revocationDeadline = nil
            member.reconciliation = .stable
            member.memberEpoch = max(member.memberEpoch, 0)
        }
        if member.reconciliation == .stable && member.memberEpoch == group.assignmentEpoch { return }
        let target = group.targetAssignment[member.memberId] ?? [:]
        var kept: TopicAssignment = [:]
        var revoked: TopicAssignment = [:]
        for (topic, partitions) in member.assigned {
            let wanted = target[topic] ?? []
            let keep = partitions.intersection(wanted)
            let drop = partitions.subtracting(wanted)
            if !keep.isEmpty { kept[topic] = keep }
            if !drop.isEmpty { revoked[topic] = drop }
        }
        if !revoked.isEmpty {
            member.assigned = kept
            member.partitionsPendingRevocation = revoked
            member.reconciliation = .unrevokedPartitions
            member.revocationDeadline = now + Int64(max(member.rebalanceTimeoutMilliseconds, 0))
            return
        }
        var next = kept
        var unreleased = false
        for (topic, partitions) in target {
            for partition in partitions where !(kept[topic]?.contains(partition) ?? false) {
                if group.isOwnedByAnotherMember(topic: topic, partition: partition, than: member.memberId) {
                    unreleased = true
                } else {
                    next[topic, default: []].insert(partition)
                }
            }
        }
        member.assigned = next
        if member.memberEpoch != group.assignmentEpoch {
            member.previousMemberEpoch = member.memberEpoch
            member.memberEpoch = group.assignmentEpoch
        }
        member.reconciliation = unreleased ? .unreleasedPartitions : .stable
    }

    /// Removes the member; returns its tombstones and the new target's records.
    func removeConsumerMember(_ member: ConsumerMember, from group: ConsumerGroup, now: Int64) -> [CoordinatorRecord] {
        group.members[member.memberId] = nil
        group.targetAssignment[member.memberId] = nil
        let tombstones = memberTombstones(member.memberId, in: group)
        let records = updateTargetAssignment(group, now: now, force: true)
        if group.members.isEmpty { group.stateTimestamp = now }
        return tombstones + records
    }

    /// A group with a member subscribed by one of `patterns`, just resolved, gets its target
    /// assignment updated (a new group epoch when the matched topics changed).
    func applyResolvedPatterns(_ patterns: Set<String>, _ slot: GroupSlot, now: Int64) {
        guard let group = slot.consumer,
            group.members.values.contains(where: { member in member.subscribedTopicRegex.map(patterns.contains) ?? false })
        else { return }
        _ = persist(updateTargetAssignment(group, now: now), for: slot, now: now)
    }

    /// Members silent past the session timeout, or holding partitions past their
    /// rebalance timeout, are fenced: their partitions go to the others.
    func expireConsumerMembers(_ slot: GroupSlot, now: Int64) {
        guard let group = slot.consumer else { return }
        for member in Array(group.members.values) where now >= member.heartbeatDeadline || now >= member.revocationDeadline ?? .max {
            _ = persist(removeConsumerMember(member, from: group, now: now), for: slot, now: now)
        }
    }

    /// ConsumerGroupDescribe for one group; nil when there is no such group.
    public func describeConsumerGroup(_ groupId: String) -> DescribedConsumerGroup? {
        withSlot(groupId, create: false) { slot, _, _ -> DescribedConsumerGroup? in
            guard let group = slot.consumer else {
                guard slot.classic != nil else { return nil }
                return DescribedConsumerGroup(
                    error: .groupIdNotFound, errorMessage: "Group \(groupId) is not a consumer group.",
                    state: "Dead", groupEpoch: 0, assignmentEpoch: 0, assignorName: "", members: [])
            }
            return DescribedConsumerGroup(
                state: group.state.rawValue, groupEpoch: group.groupEpoch, assignmentEpoch: group.assignmentEpoch,
                assignorName: group.assignorName ?? configuration.consumerAssignors.first ?? "uniform",
                members: group.members.values.sorted { $0.memberId < $1.memberId }.map {
                    .init(
                        memberId: $0.memberId, instanceId: $0.instanceId, rackId: $0.rackId, memberEpoch: $0.memberEpoch,
                        clientId: $0.clientId, clientHost: $0.clientHost, subscribedTopicNames: $0.subscribedTopicNames,
                        subscribedTopicRegex: $0.subscribedTopicRegex, assignment: describe($0.assigned),
                        targetAssignment: describe(group.targetAssignment[$0.memberId] ?? [:]))
                })
        } ?? nil
    }
}
