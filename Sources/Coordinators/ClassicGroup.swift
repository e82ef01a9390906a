// A consumer group on the classic rebalance protocol (JoinGroup / SyncGroup / Heartbeat /
// LeaveGroup), Kafka's state machine: Empty -> PreparingRebalance -> CompletingRebalance ->
// Stable, Dead once deleted. Guarded by its GroupSlot's lock; completions run after unlock.

import KafkaProtocol

public enum ClassicGroupState: String, Sendable, CaseIterable {
    case empty = "Empty"
    case preparingRebalance = "PreparingRebalance"
    case completingRebalance = "CompletingRebalance"
    case stable = "Stable"
    case dead = "Dead"
}

/// A JoinGroup as the coordinator needs it.
public struct JoinGroupInput: Sendable {
    public var groupId: String
    public var memberId: String
    public var groupInstanceId: String?
    public var clientId: String
    public var clientHost: String
    public var protocolType: String
    public var protocols: [(name: String, metadata: [UInt8])]
    public var sessionTimeoutMilliseconds: Int32
    public var rebalanceTimeoutMilliseconds: Int32
    /// JoinGroup v4+ without an instance id: a first join gets MEMBER_ID_REQUIRED.
    public var requireKnownMemberId: Bool

    public init(
        groupId: String, memberId: String, groupInstanceId: String?, clientId: String, clientHost: String,
        protocolType: String, protocols: [(name: String, metadata: [UInt8])], sessionTimeoutMilliseconds: Int32,
        rebalanceTimeoutMilliseconds: Int32, requireKnownMemberId: Bool
    ) {
        self.groupId = groupId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.protocolType = protocolType
        self.protocols = protocols
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        self.rebalanceTimeoutMilliseconds = rebalanceTimeoutMilliseconds
        self.requireKnownMemberId = requireKnownMemberId
    }
}

public struct JoinGroupOutcome: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var groupInstanceId: String?
        public var metadata: [UInt8]
    }

    public var error: ErrorCode = .none
    public var generationId: Int32 = -1
    public var protocolType: String?
    public var protocolName: String?
    public var leader = ""
    public var memberId = ""
    /// Filled for the leader only.
    public var members: [Member] = []
    /// A static leader rejoining a stable group keeps the current assignment (JoinGroup v9).
    public var skipAssignment = false
    /// With skipAssignment: the leader's id before it rejoined. Before v9 the response names
    /// it, so the rejoined member acts as a follower and fetches its assignment.
    public var leaderBeforeRejoin: String?

    static func failed(_ error: ErrorCode, memberId: String = "") -> JoinGroupOutcome {
        JoinGroupOutcome(error: error, memberId: memberId)
    }
}

public struct SyncGroupOutcome: Sendable, Equatable {
    public var error: ErrorCode = .none
    public var protocolType: String?
    public var protocolName: String?
    public var assignment: [UInt8] = []
}

final class ClassicMember {
    let memberId: String
    var groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var sessionTimeoutMilliseconds: Int32
    var rebalanceTimeoutMilliseconds: Int32
    var protocolType: String
    var protocols: [(name: String, metadata: [UInt8])]
    var assignment: [UInt8] = []
    var awaitingJoin: (@Sendable (JoinGroupOutcome) -> Void)?
    var awaitingSync: (@Sendable (SyncGroupOutcome) -> Void)?
    var heartbeatDeadline: Int64
    /// Joined during the current rebalance: it must heartbeat, it is not excused as waiting.
    var isNew = false

    init(memberId: String, input: JoinGroupInput, now: Int64) {
        self.memberId = memberId
        groupInstanceId = input.groupInstanceId
        clientId = input.clientId
        clientHost = input.clientHost
        sessionTimeoutMilliseconds = input.sessionTimeoutMilliseconds
        rebalanceTimeoutMilliseconds = input.rebalanceTimeoutMilliseconds
        protocolType = input.protocolType
        protocols = input.protocols
        heartbeatDeadline = now + Int64(input.sessionTimeoutMilliseconds)
    }

    func metadata(for protocolName: String?) -> [UInt8] {
        protocols.first { $0.name == protocolName }?.metadata ?? []
    }

    func sameProtocols(as input: JoinGroupInput) -> Bool {
        input.protocolType == protocolType && input.protocols.count == protocols.count
            && zip(input.protocols, protocols).allSatisfy { $0.name == $1.name && $0.metadata == $1.metadata }
    }

    /// Kafka's hasSatisfiedHeartbeat: a member waiting on the coordinator is not expired,
    /// except a new one, which has the new-member join timeout instead.
    func isAlive(now: Int64) -> Bool {
        if !isNew && (awaitingJoin != nil || awaitingSync != nil) { return true }
        return now < heartbeatDeadline
    }

    /// After the coordinator answers a parked request the session starts again.
    func restartSession(now: Int64) {
        heartbeatDeadline = now + Int64(sessionTimeoutMilliseconds)
    }

    /// Kafka's group.classic.new.member.join.timeout: how long a new member may wait in a
    /// rebalance without being expired.
    static let newMemberJoinTimeoutMilliseconds: Int64 = 300_000
}

final class ClassicGroup {
    let groupId: String
    var state: ClassicGroupState = .empty
    var stateTimestamp: Int64
    var generationId: Int32 = 0
    var protocolType: String?
    var protocolName: String?
    var leaderId: String?
    /// Members in join order (the first remaining member leads when the leader leaves).
    private(set) var memberOrder: [String] = []
    private(set) var members: [String: ClassicMember] = [:]
    /// Member ids handed out with MEMBER_ID_REQUIRED, until they rejoin or their session ends.
    var pendingMembers: [String: Int64] = [:]
    /// group.instance.id -> member id.
    var staticMembers: [String: String] = [:]
    /// While PreparingRebalance: when the join barrier stops waiting for missing members.
    var rebalanceDeadline: Int64?
    /// While the first rebalance of an empty group waits for more members.
    var initialJoinDeadline: Int64?
    /// Members of the new generation that have not sent SyncGroup yet, and when they are
    /// dropped for it (Kafka's pending-sync timeout: the rebalance timeout).
    var pendingSync: Set<String> = []
    var syncDeadline: Int64?

    init(groupId: String, now: Int64) {
        self.groupId = groupId
        stateTimestamp = now
    }

    var orderedMembers: [ClassicMember] { memberOrder.compactMap { members[$0] } }
    var isEmpty: Bool { members.isEmpty }

    func transition(to newState: ClassicGroupState, now: Int64) {
        state = newState
        stateTimestamp = now
    }

    func add(_ member: ClassicMember) {
        if members[member.memberId] == nil { memberOrder.append(member.memberId) }
        members[member.memberId] = member
        if let instance = member.groupInstanceId { staticMembers[instance] = member.memberId }
        if leaderId == nil { leaderId = member.memberId }
    }

    func remove(_ memberId: String) {
        guard let member = members.removeValue(forKey: memberId) else { return }
        memberOrder.removeAll { $0 == memberId }
        if let instance = member.groupInstanceId, staticMembers[instance] == memberId { staticMembers[instance] = nil }
        if leaderId == memberId { leaderId = memberOrder.first }
    }

    /// Swaps a static member's id for a new one (a static rejoin), keeping its place.
    func replaceStaticMember(_ oldId: String, with member: ClassicMember) {
        guard let index = memberOrder.firstIndex(of: oldId) else { return add(member) }
        members[oldId] = nil
        if pendingSync.remove(oldId) != nil { pendingSync.insert(member.memberId) }
        memberOrder[index] = member.memberId
        members[member.memberId] = member
        if let instance = member.groupInstanceId { staticMembers[instance] = member.memberId }
        if leaderId == oldId { leaderId = member.memberId }
    }

    /// Protocols every member supports, in no particular order.
    func supports(_ input: JoinGroupInput) -> Bool {
        if members.isEmpty { return !input.protocolType.isEmpty && !input.protocols.isEmpty }
        guard input.protocolType == protocolType else { return false }
        let offered = Set(input.protocols.map(\.name))
        return !candidateProtocols.intersection(offered).isEmpty
    }

    var candidateProtocols: Set<String> {
        var candidates: Set<String>?
        for member in members.values {
            let names = Set(member.protocols.map(\.name))
            candidates = candidates.map { $0.intersection(names) } ?? names
        }
        return candidates ?? []
    }

    /// Kafka's vote: each member backs its most preferred candidate; most votes wins,
    /// ties going to the protocol the first member prefers.
    func selectProtocol() -> String? {
        let candidates = candidateProtocols
        var votes: [String: Int] = [:]
        for member in orderedMembers {
            if let choice = member.protocols.first(where: { candidates.contains($0.name) })?.name { votes[choice, default: 0] += 1 }
        }
        let preference = orderedMembers.first?.protocols.map(\.name) ?? []
        return votes.max { lhs, rhs in
            lhs.value != rhs.value
                ? lhs.value < rhs.value
                : (preference.firstIndex(of: lhs.key) ?? .max) > (preference.firstIndex(of: rhs.key) ?? .max)
        }?.key
    }

    var hasAllMembersJoined: Bool {
        pendingMembers.isEmpty && members.values.allSatisfy { $0.awaitingJoin != nil }
    }

    var maximumRebalanceTimeout: Int64 {
        Int64(members.values.map(\.rebalanceTimeoutMilliseconds).max() ?? 0)
    }

    /// The join response for `member` in the current generation.
    func joinOutcome(for member: ClassicMember, skipAssignment: Bool = false) -> JoinGroupOutcome {
        var outcome = JoinGroupOutcome(
            generationId: generationId, protocolType: protocolType, protocolName: protocolName,
            leader: leaderId ?? "", memberId: member.memberId)
        if member.memberId == leaderId {
            outcome.members = orderedMembers.map {
                .init(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata(for: protocolName))
            }
            outcome.skipAssignment = skipAssignment
        }
        return outcome
    }
}
