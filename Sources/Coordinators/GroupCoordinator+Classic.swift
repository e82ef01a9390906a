// The classic rebalance protocol on the coordinator: JoinGroup (with its barrier),
// SyncGroup, Heartbeat, LeaveGroup and session expiry, after Kafka's classic group
// coordinator (KIP-345 static members, KIP-394 MEMBER_ID_REQUIRED, KIP-814 skip assignment).

import KafkaProtocol
import KafkaWire
import Logging

extension GroupCoordinator {
    // MARK: JoinGroup

    /// Joins `input.memberId` (empty: a new member) to the group. `completion` runs once,
    /// maybe later, when the rebalance completes; it must not block.
    public func join(_ input: JoinGroupInput, completion: @escaping @Sendable (JoinGroupOutcome) -> Void) {
        guard !input.groupId.isEmpty else { return completion(.failed(.invalidGroupId, memberId: input.memberId)) }
        guard
            (configuration.minimumSessionTimeoutMilliseconds...configuration.maximumSessionTimeoutMilliseconds)
                .contains(input.sessionTimeoutMilliseconds)
        else {
            return completion(.failed(.invalidSessionTimeout, memberId: input.memberId))
        }
        let immediate: JoinGroupOutcome? =
            withSlot(input.groupId, create: input.memberId.isEmpty) { slot, now, deliveries in
                // Read under the slot's lock: a join either parks before the release sweeps
                // this slot, or sees that it happened.
                if stoppedWaiting.load(ordering: .acquiring) { return .failed(.notCoordinator, memberId: input.memberId) }
                if let consumer = slot.consumer {
                    // Kafka lets classic members into consumer groups (KIP-848 upgrade); not yet here.
                    guard consumer.members.isEmpty else { return .failed(.inconsistentGroupProtocol, memberId: input.memberId) }
                    // An empty consumer group gives way to a classic one, keeping its offsets.
                    _ = persist(consumerGroupTombstones(slot.groupId), for: slot, now: now)
                    slot.consumer = nil
                }
                let group =
                    slot.classic
                    ?? {
                        let created = ClassicGroup(groupId: input.groupId, now: now)
                        slot.classic = created
                        return created
                    }()
                if group.state == .dead { return .failed(.coordinatorNotAvailable, memberId: input.memberId) }
                guard group.supports(input) else { return .failed(.inconsistentGroupProtocol, memberId: input.memberId) }
                if input.memberId.isEmpty {
                    return joinNewMember(input, group: group, slot: slot, now: now, completion: completion, deliveries: &deliveries)
                }
                return joinExistingMember(input, group: group, slot: slot, now: now, completion: completion, deliveries: &deliveries)
            } ?? .failed(.unknownMemberId, memberId: input.memberId)
        if let immediate { completion(immediate) }
    }

    private func joinNewMember(
        _ input: JoinGroupInput, group: ClassicGroup, slot: GroupSlot, now: Int64,
        completion: @escaping @Sendable (JoinGroupOutcome) -> Void,
        deliveries: inout Deliveries
    ) -> JoinGroupOutcome? {
        if let instance = input.groupInstanceId, let oldId = group.staticMembers[instance] {
            return rejoinStaticMember(
                input, oldId: oldId, group: group, slot: slot, now: now, completion: completion, deliveries: &deliveries)
        }
        guard group.members.count + group.pendingMembers.count < configuration.maximumGroupSize else {
            return .failed(.groupMaxSizeReached)
        }
        let memberId = (input.groupInstanceId ?? input.clientId) + "-" + Uuid.random().description
        if input.requireKnownMemberId {
            group.pendingMembers[memberId] = now + Int64(input.sessionTimeoutMilliseconds)
            return .failed(.memberIdRequired, memberId: memberId)
        }
        addMemberAndRebalance(
            memberId: memberId, input, group: group, slot: slot, now: now, completion: completion, deliveries: &deliveries)
        return nil
    }

    private func joinExistingMember(
        _ input: JoinGroupInput, group: ClassicGroup, slot: GroupSlot, now: Int64,
        completion: @escaping @Sendable (JoinGroupOutcome) -> Void,
        deliveries: inout Deliveries
    ) -> JoinGroupOutcome? {
        if let instance = input.groupInstanceId, let known = group.staticMembers[instance], known != input.memberId {
            return .failed(.fencedInstanceId, memberId: input.memberId)
        }
        if group.pendingMembers.removeValue(forKey: input.memberId) != nil {
            guard group.members.count < configuration.maximumGroupSize else { return .failed(.groupMaxSizeReached) }
            addMemberAndRebalance(
                memberId: input.memberId, input, group: group, slot: slot, now: now, completion: completion, deliveries: &deliveries)
            return nil
        }
        guard let member = group.members[input.memberId], group.state != .empty else {
            return .failed(.unknownMemberId, memberId: input.memberId)
        }
        switch group.state {
        case .preparingRebalance:
            update(member, with: input, completion: completion, deliveries: &deliveries)
            tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
            return nil
        case .completingRebalance where member.sameProtocols(as: input):
            // A retried join whose response was lost: the same answer again.
            return group.joinOutcome(for: member)
        case .stable where member.memberId != group.leaderId && member.sameProtocols(as: input):
            return group.joinOutcome(for: member)
        case .completingRebalance, .stable:
            update(member, with: input, completion: completion, deliveries: &deliveries)
            prepareRebalance(group, slot: slot, now: now, deliveries: &deliveries)
            return nil
        case .empty, .dead:
            return .failed(.unknownMemberId, memberId: input.memberId)
        }
    }

    /// A static member (group.instance.id) rejoining with an empty member id: it takes a new
    /// id; the previous incarnation is fenced. A stable group does not rebalance for it.
    private func rejoinStaticMember(
        _ input: JoinGroupInput, oldId: String, group: ClassicGroup, slot: GroupSlot, now: Int64,
        completion: @escaping @Sendable (JoinGroupOutcome) -> Void,
        deliveries: inout Deliveries
    ) -> JoinGroupOutcome? {
        guard let old = group.members[oldId] else { return .failed(.unknownMemberId) }
        let member = ClassicMember(memberId: input.groupInstanceId! + "-" + Uuid.random().description, input: input, now: now)
        member.assignment = old.assignment
        let leaderBeforeRejoin = group.leaderId
        if let fenced = old.awaitingJoin { deliveries.add { fenced(.failed(.fencedInstanceId, memberId: oldId)) } }
        if let fenced = old.awaitingSync { deliveries.add { fenced(SyncGroupOutcome(error: .fencedInstanceId)) } }
        group.replaceStaticMember(oldId, with: member)
        switch group.state {
        case .stable where group.selectProtocol() == group.protocolName:
            // Kafka rebalances only if the group's protocol would change (not for new
            // subscription bytes: a restarted member no longer lists owned partitions).
            guard persistGroup(slot, now: now) else {
                group.replaceStaticMember(member.memberId, with: old)
                return .failed(.unknownServerError)
            }
            var outcome = group.joinOutcome(for: member, skipAssignment: true)
            outcome.leaderBeforeRejoin = leaderBeforeRejoin
            return outcome
        case .preparingRebalance:
            member.awaitingJoin = completion
            tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
            return nil
        default:
            member.awaitingJoin = completion
            prepareRebalance(group, slot: slot, now: now, deliveries: &deliveries)
            return nil
        }
    }

    private func addMemberAndRebalance(
        memberId: String, _ input: JoinGroupInput, group: ClassicGroup, slot: GroupSlot, now: Int64,
        completion: @escaping @Sendable (JoinGroupOutcome) -> Void, deliveries: inout Deliveries
    ) {
        let member = ClassicMember(memberId: memberId, input: input, now: now)
        member.isNew = true
        member.heartbeatDeadline = now + ClassicMember.newMemberJoinTimeoutMilliseconds
        member.awaitingJoin = completion
        if group.isEmpty { group.protocolType = input.protocolType }
        group.add(member)
        if group.state == .preparingRebalance {
            // A newcomer during the first rebalance's delay extends it (initial delayed join).
            if let deadline = group.initialJoinDeadline, let limit = group.rebalanceDeadline {
                group.initialJoinDeadline = min(max(deadline, now + configuration.initialRebalanceDelayMilliseconds), limit)
            }
            group.rebalanceDeadline = max(group.rebalanceDeadline ?? now, now + Int64(input.rebalanceTimeoutMilliseconds))
            tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
        } else {
            prepareRebalance(group, slot: slot, now: now, deliveries: &deliveries)
        }
    }

    private func update(
        _ member: ClassicMember, with input: JoinGroupInput,
        completion: @escaping @Sendable (JoinGroupOutcome) -> Void, deliveries: inout Deliveries
    ) {
        if let previous = member.awaitingJoin {
            // A second join from the same member replaces the first, which is told to rejoin.
            deliveries.add { previous(.failed(.rebalanceInProgress, memberId: member.memberId)) }
        }
        member.protocols = input.protocols
        member.protocolType = input.protocolType
        member.sessionTimeoutMilliseconds = input.sessionTimeoutMilliseconds
        member.rebalanceTimeoutMilliseconds = input.rebalanceTimeoutMilliseconds
        member.clientId = input.clientId
        member.clientHost = input.clientHost
        member.awaitingJoin = completion
    }

    func prepareRebalance(_ group: ClassicGroup, slot: GroupSlot, now: Int64, deliveries: inout Deliveries) {
        if group.state == .completingRebalance {
            for member in group.orderedMembers {
                member.assignment = []
                if let waiting = member.awaitingSync {
                    member.awaitingSync = nil
                    member.restartSession(now: now)
                    deliveries.add { waiting(SyncGroupOutcome(error: .rebalanceInProgress)) }
                }
            }
        }
        let initial = group.state == .empty
        group.pendingSync = []
        group.syncDeadline = nil
        group.transition(to: .preparingRebalance, now: now)
        logger.debug("group \(group.groupId): preparing a rebalance after generation \(group.generationId)")
        group.rebalanceDeadline = now + max(group.maximumRebalanceTimeout, 0)
        group.initialJoinDeadline =
            initial
            ? min(now + configuration.initialRebalanceDelayMilliseconds, group.rebalanceDeadline!) : nil
        tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
    }

    func tryCompleteJoin(_ group: ClassicGroup, slot: GroupSlot, now: Int64, deliveries: inout Deliveries) {
        guard group.state == .preparingRebalance else { return }
        let delayOver = group.initialJoinDeadline.map { now >= $0 } ?? true
        if (group.hasAllMembersJoined && delayOver) || now >= group.rebalanceDeadline ?? .max {
            completeJoin(group, slot: slot, now: now, deliveries: &deliveries)
        }
    }

    /// Ends the join barrier: members that did not rejoin are dropped (static ones are kept
    /// until their session ends), the next generation starts and every joined member hears.
    private func completeJoin(_ group: ClassicGroup, slot: GroupSlot, now: Int64, deliveries: inout Deliveries) {
        for member in group.orderedMembers where member.awaitingJoin == nil && member.groupInstanceId == nil {
            group.remove(member.memberId)
        }
        group.rebalanceDeadline = nil
        group.initialJoinDeadline = nil
        group.generationId &+= 1
        if group.isEmpty {
            group.protocolName = nil
            group.transition(to: .empty, now: now)
            logger.debug("group \(group.groupId): empty at generation \(group.generationId)")
            _ = persistGroup(slot, now: now)
            return
        }
        group.protocolName = group.selectProtocol()
        if group.leaderId.map({ group.members[$0]?.awaitingJoin == nil }) ?? true,
            let joined = group.orderedMembers.first(where: { $0.awaitingJoin != nil })
        {
            group.leaderId = joined.memberId
        }
        group.transition(to: .completingRebalance, now: now)
        logger.debug(
            "group \(group.groupId): generation \(group.generationId) with \(group.members.count) member(s), protocol \(group.protocolName ?? "none"), leader \(group.leaderId ?? "none"); awaiting its assignment"
        )
        group.pendingSync = Set(group.members.keys)
        group.syncDeadline = now + group.maximumRebalanceTimeout
        for member in group.orderedMembers {
            member.isNew = false
            member.restartSession(now: now)
            guard let waiting = member.awaitingJoin else { continue }
            member.awaitingJoin = nil
            let outcome = group.joinOutcome(for: member)
            deliveries.add { waiting(outcome) }
        }
    }

    // MARK: SyncGroup

    public func sync(
        groupId: String, generationId: Int32, memberId: String, groupInstanceId: String?,
        protocolType: String?, protocolName: String?, assignments: [(memberId: String, assignment: [UInt8])],
        completion: @escaping @Sendable (SyncGroupOutcome) -> Void
    ) {
        let immediate: SyncGroupOutcome? =
            withSlot(groupId, create: false) { slot, now, deliveries in
                if stoppedWaiting.load(ordering: .acquiring) { return SyncGroupOutcome(error: .notCoordinator) }
                guard let group = slot.classic else {
                    return SyncGroupOutcome(error: slot.consumer != nil ? .inconsistentGroupProtocol : .unknownMemberId)
                }
                if group.state == .dead { return SyncGroupOutcome(error: .coordinatorNotAvailable) }
                if let error = validateMember(group, memberId: memberId, groupInstanceId: groupInstanceId, generationId: generationId) {
                    return SyncGroupOutcome(error: error)
                }
                if let protocolType, protocolType != group.protocolType { return SyncGroupOutcome(error: .inconsistentGroupProtocol) }
                if let protocolName, protocolName != group.protocolName { return SyncGroupOutcome(error: .inconsistentGroupProtocol) }
                let member = group.members[memberId]!
                member.restartSession(now: now)
                if group.state == .completingRebalance || group.state == .stable {
                    group.pendingSync.remove(memberId)
                    if group.pendingSync.isEmpty { group.syncDeadline = nil }
                }
                switch group.state {
                case .empty, .dead: return SyncGroupOutcome(error: .unknownMemberId)
                case .preparingRebalance: return SyncGroupOutcome(error: .rebalanceInProgress)
                case .stable:
                    return SyncGroupOutcome(
                        protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment)
                case .completingRebalance:
                    member.awaitingSync = completion
                    guard memberId == group.leaderId else { return nil }
                    let given = Dictionary(assignments.map { ($0.memberId, $0.assignment) }, uniquingKeysWith: { first, _ in first })
                    for member in group.orderedMembers { member.assignment = given[member.memberId] ?? [] }
                    guard persistGroup(slot, now: now) else {
                        prepareRebalance(group, slot: slot, now: now, deliveries: &deliveries)
                        return nil
                    }
                    group.transition(to: .stable, now: now)
                    logger.debug("group \(group.groupId): stable at generation \(group.generationId)")
                    for member in group.orderedMembers {
                        guard let waiting = member.awaitingSync else { continue }
                        member.awaitingSync = nil
                        member.restartSession(now: now)
                        let outcome = SyncGroupOutcome(
                            protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment)
                        deliveries.add { waiting(outcome) }
                    }
                    return nil
                }
            } ?? SyncGroupOutcome(error: .unknownMemberId)
        if let immediate { completion(immediate) }
    }

    /// Kafka's checks shared by SyncGroup, Heartbeat and OffsetCommit for a classic member.
    func validateMember(_ group: ClassicGroup, memberId: String, groupInstanceId: String?, generationId: Int32) -> ErrorCode? {
        if let groupInstanceId, let known = group.staticMembers[groupInstanceId], known != memberId { return .fencedInstanceId }
        guard group.members[memberId] != nil else { return .unknownMemberId }
        guard generationId == group.generationId else { return .illegalGeneration }
        return nil
    }

    // MARK: Heartbeat

    public func heartbeat(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String?) -> ErrorCode {
        withSlot(groupId, create: false) { slot, now, _ -> ErrorCode in
            guard let group = slot.classic else { return slot.consumer != nil ? .inconsistentGroupProtocol : .unknownMemberId }
            if group.state == .dead { return .coordinatorNotAvailable }
            if let error = validateMember(group, memberId: memberId, groupInstanceId: groupInstanceId, generationId: generationId) {
                return error
            }
            let member = group.members[memberId]!
            member.restartSession(now: now)
            switch group.state {
            case .empty, .dead: return .unknownMemberId
            case .preparingRebalance: return .rebalanceInProgress
            case .completingRebalance, .stable: return .none
            }
        } ?? .unknownMemberId
    }

    // MARK: LeaveGroup

    /// Removes each member (by id, or by instance id when the id is empty). Returns the
    /// group's error and one error per member.
    public func leave(groupId: String, members: [(memberId: String, groupInstanceId: String?)]) -> (ErrorCode, [ErrorCode]) {
        withSlot(groupId, create: false) { slot, now, deliveries -> (ErrorCode, [ErrorCode]) in
            guard let group = slot.classic else {
                return (slot.consumer != nil ? .inconsistentGroupProtocol : .unknownMemberId, [])
            }
            if group.state == .dead { return (.coordinatorNotAvailable, []) }
            let results = members.map { identity -> ErrorCode in
                if identity.groupInstanceId == nil, group.pendingMembers.removeValue(forKey: identity.memberId) != nil { return .none }
                var memberId = identity.memberId
                if let instance = identity.groupInstanceId {
                    guard let known = group.staticMembers[instance] else { return .unknownMemberId }
                    if !memberId.isEmpty && memberId != known { return .fencedInstanceId }
                    memberId = known
                }
                guard group.members[memberId] != nil else { return .unknownMemberId }
                removeMember(memberId, from: group, slot: slot, now: now, deliveries: &deliveries)
                return .none
            }
            return (.none, results)
        } ?? (.unknownMemberId, members.map { _ in .unknownMemberId })
    }

    func removeMember(_ memberId: String, from group: ClassicGroup, slot: GroupSlot, now: Int64, deliveries: inout Deliveries) {
        guard let member = group.members[memberId] else { return }
        if let waiting = member.awaitingJoin { deliveries.add { waiting(.failed(.unknownMemberId, memberId: memberId)) } }
        if let waiting = member.awaitingSync { deliveries.add { waiting(SyncGroupOutcome(error: .unknownMemberId)) } }
        member.awaitingJoin = nil
        member.awaitingSync = nil
        group.remove(memberId)
        switch group.state {
        case .stable, .completingRebalance: prepareRebalance(group, slot: slot, now: now, deliveries: &deliveries)
        case .preparingRebalance: tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
        case .empty, .dead: break
        }
    }

    // MARK: Shutdown

    /// Answers every JoinGroup and SyncGroup waiting at a barrier with NOT_COORDINATOR, as a
    /// broker that stops hosting its groups answers them, so that a shutdown does not wait out
    /// rebalance timeouts: clients look for the coordinator again and rejoin there. The groups
    /// are left as they are; what they committed is in the log. Later JoinGroup and SyncGroup
    /// requests get NOT_COORDINATOR at once.
    public func releaseWaitingMembers() {
        stoppedWaiting.store(true, ordering: .releasing)
        release(allSlots)
    }

    /// Forgets the groups kept in `offsetsPartition` (Kafka's unloading: another broker leads
    /// it now, or it is about to be replayed afresh); their waiting members hear
    /// NOT_COORDINATOR and look for the coordinator again.
    public func unload(offsetsPartition partition: Int32) {
        // Released while still in the table, where `withSlot` finds them.
        release(allSlots.filter { $0.offsetsPartition == partition })
        for slot in removeSlots(where: { $0.offsetsPartition == partition }) {
            slot.lock.lock()
            slot.isRemoved = true
            slot.lock.unlock()
        }
    }

    private func release(_ slots: [GroupSlot]) {
        for slot in slots {
            _ = withSlot(slot.groupId, create: false) { slot, _, deliveries in
                for member in slot.classic?.orderedMembers ?? [] {
                    let memberId = member.memberId
                    if let waiting = member.awaitingJoin { deliveries.add { waiting(.failed(.notCoordinator, memberId: memberId)) } }
                    if let waiting = member.awaitingSync { deliveries.add { waiting(SyncGroupOutcome(error: .notCoordinator)) } }
                    member.awaitingJoin = nil
                    member.awaitingSync = nil
                }
            }
        }
    }

    // MARK: Expiry

    func expireClassic(_ group: ClassicGroup, slot: GroupSlot, now: Int64, deliveries: inout Deliveries) {
        group.pendingMembers = group.pendingMembers.filter { $0.value > now }
        for member in group.orderedMembers where !member.isAlive(now: now) {
            removeMember(member.memberId, from: group, slot: slot, now: now, deliveries: &deliveries)
        }
        if let deadline = group.syncDeadline, now >= deadline {
            // Members that never sent SyncGroup for this generation are dropped.
            let stale = group.pendingSync
            group.pendingSync = []
            group.syncDeadline = nil
            for memberId in group.memberOrder where stale.contains(memberId) {
                removeMember(memberId, from: group, slot: slot, now: now, deliveries: &deliveries)
            }
        }
        tryCompleteJoin(group, slot: slot, now: now, deliveries: &deliveries)
    }

    // MARK: Persistence

    /// Writes the group's GroupMetadata record (Kafka's value version 3).
    @discardableResult
    func persistGroup(_ slot: GroupSlot, now: Int64) -> Bool {
        guard let group = slot.classic else { return true }
        let value = GroupMetadataValue(
            protocolType: group.protocolType ?? "", generation: group.generationId, protocol: group.protocolName,
            leader: group.leaderId, currentStateTimestamp: group.stateTimestamp,
            members: group.orderedMembers.map {
                .init(
                    memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId, clientHost: $0.clientHost,
                    rebalanceTimeout: $0.rebalanceTimeoutMilliseconds, sessionTimeout: $0.sessionTimeoutMilliseconds,
                    subscription: $0.metadata(for: group.protocolName), assignment: $0.assignment)
            })
        let record = CoordinatorRecord(
            key: OffsetsTopic.groupMetadataKey(slot.groupId),
            value: InternalTopic.encode(value, version: 3, messageVersion: 3))
        return persist([record], for: slot, now: now)
    }
}
