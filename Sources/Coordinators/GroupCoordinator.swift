// The group coordinator: every consumer group of this broker (classic and KIP-848), their
// committed offsets, and the records that make both survive a restart. State machines only:
// time comes from the injected clock, persistence from CoordinatorLog, and the broker calls
// `expireDeadlines` periodically. Each group has its own lock; completions (a parked
// JoinGroup's response, say) run after it is released.

import KafkaProtocol
import KafkaWire
import Logging
import Synchronization
import SystemCalls

/// One group id's state: a classic or a consumer group, and its committed offsets.
final class GroupSlot: @unchecked Sendable {
    // Everything below is read and written under `lock`.
    let lock = Lock()
    let groupId: String
    let offsetsPartition: Int32
    var classic: ClassicGroup?
    var consumer: ConsumerGroup?
    var offsets: [TopicPartition: CommittedOffset] = [:]
    /// Offsets committed in open transactions, by producer id (TxnOffsetCommit).
    var pendingTransactionalOffsets: [Int64: [TopicPartition: CommittedOffset]] = [:]
    /// Set once the slot left the coordinator's table (deleted); a caller holding it retries.
    var isRemoved = false

    init(groupId: String, offsetsPartition: Int32) {
        self.groupId = groupId
        self.offsetsPartition = offsetsPartition
    }

    /// What ListGroups and DescribeGroups call the group's state.
    var stateName: String {
        if let consumer { return consumer.state.rawValue }
        return classic?.state.rawValue ?? ClassicGroupState.empty.rawValue
    }

    var typeName: String { consumer != nil ? "consumer" : "classic" }

    var hasGroup: Bool { classic != nil || consumer != nil }

    /// Offsets belong to a group: without one, Kafka makes an empty classic group.
    func ensureGroup(now: Int64) {
        if !hasGroup { classic = ClassicGroup(groupId: groupId, now: now) }
    }

    /// No members, and no member ids handed out that may still join.
    var isEmpty: Bool { consumer?.members.isEmpty ?? ((classic?.isEmpty ?? true) && (classic?.pendingMembers.isEmpty ?? true)) }
}

/// Work to do once the group lock is released: completions of parked requests.
struct Deliveries {
    private var actions: [() -> Void] = []
    mutating func add(_ action: @escaping () -> Void) { actions.append(action) }
    func run() { for action in actions { action() } }
}

public final class GroupCoordinator: @unchecked Sendable {
    public let configuration: GroupConfiguration
    let clock: @Sendable () -> Int64
    let log: any CoordinatorLog
    let topics: any GroupTopicCatalog
    // `slots` is read and written under `slotsLock`; a slot's contents under its own lock.
    private let slotsLock = Lock()
    private var slots: [String: GroupSlot] = [:]
    /// When offsets retention last ran; touched only by `expireDeadlines` (one caller).
    private var lastOffsetsExpiry: Int64 = 0
    private let writeOrder = Atomic<Int64>(0)
    let regexResolutions: RegexResolutions
    /// Set by `releaseWaitingMembers` (shutdown): no request waits at a barrier any more.
    let stoppedWaiting = Atomic(false)

    /// The next position in the order commits are written (and replayed) in.
    func nextWriteOrder() -> Int64 { writeOrder.add(1, ordering: .relaxed).newValue }

    /// `resolveRegexes` runs regex resolutions; nil gives them a thread of their own.
    /// Rebalances go here at debug level.
    let logger: Logger

    public init(
        configuration: GroupConfiguration, log: any CoordinatorLog, topics: any GroupTopicCatalog,
        clock: @escaping @Sendable () -> Int64,
        resolveRegexes: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil,
        logger: Logger = Logger(label: "swiftlet.groups", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.logger = logger
        regexResolutions = RegexResolutions(maximumSteps: configuration.maximumRegexResolutionSteps, executor: resolveRegexes)
        self.configuration = configuration
        self.log = log
        self.topics = topics
        self.clock = clock
    }

    // MARK: Slots

    func slot(_ groupId: String, create: Bool) -> GroupSlot? {
        slotsLock.lock()
        defer { slotsLock.unlock() }
        if let existing = slots[groupId] { return existing }
        guard create else { return nil }
        let slot = GroupSlot(groupId: groupId, offsetsPartition: offsetsPartition(for: groupId))
        slots[groupId] = slot
        return slot
    }

    /// Takes the slots `predicate` picks out of the table.
    func removeSlots(where predicate: (GroupSlot) -> Bool) -> [GroupSlot] {
        slotsLock.lock()
        defer { slotsLock.unlock() }
        let removed = slots.values.filter(predicate)
        for slot in removed { slots[slot.groupId] = nil }
        return removed
    }

    var allSlots: [GroupSlot] {
        slotsLock.lock()
        defer { slotsLock.unlock() }
        return Array(slots.values)
    }

    /// Runs `body` under the group's lock (creating the slot when asked), then the
    /// deliveries it queued. nil when the group does not exist and `create` is false.
    func withSlot<T>(_ groupId: String, create: Bool, _ body: (GroupSlot, Int64, inout Deliveries) -> T) -> T? {
        while true {
            guard let slot = slot(groupId, create: create) else { return nil }
            var deliveries = Deliveries()
            slot.lock.lock()
            if slot.isRemoved {
                slot.lock.unlock()
                continue  // deleted meanwhile: look again
            }
            let result = body(slot, clock(), &deliveries)
            slot.lock.unlock()
            deliveries.run()
            return result
        }
    }

    /// Drops an empty slot with nothing left in it; call under its lock.
    func removeIfUnused(_ slot: GroupSlot) {
        // An empty classic group is Empty (or Dead), never mid-rebalance.
        guard slot.offsets.isEmpty, slot.pendingTransactionalOffsets.isEmpty, slot.isEmpty,
            [ClassicGroupState.empty, .dead].contains(slot.classic?.state ?? .empty)
        else { return }
        slotsLock.lock()
        if slots[slot.groupId] === slot { slots[slot.groupId] = nil }
        slotsLock.unlock()
        slot.isRemoved = true
        slot.classic?.transition(to: .dead, now: clock())
    }

    /// Appends records for `slot`'s group; false when the log refused them.
    func persist(_ records: [CoordinatorRecord], for slot: GroupSlot, now: Int64) -> Bool {
        guard !records.isEmpty else { return true }
        do {
            try log.append(records, partition: slot.offsetsPartition, now: now)
            return true
        } catch {
            return false
        }
    }

    /// The partition of __consumer_offsets that holds `groupId`: by the topic's real
    /// partition count, as Kafka does, so a topic made with another count still works.
    public func offsetsPartition(for groupId: String) -> Int32 {
        InternalTopic.partition(for: groupId, partitions: log.partitionCount ?? configuration.offsetsTopicPartitions)
    }

    // MARK: Deadlines

    /// Expires silent members, ends join barriers whose time is up, drops offsets past
    /// their retention, and updates the groups whose regex subscriptions were resolved since
    /// the last call. The broker calls it every few tens of milliseconds.
    public func expireDeadlines() {
        let checkOffsets = clock() - lastOffsetsExpiry >= configuration.offsetsRetentionCheckIntervalMilliseconds
        if checkOffsets { lastOffsetsExpiry = clock() }
        let resolvedPatterns = regexResolutions.takeResolved()
        for slot in allSlots {
            _ = withSlot(slot.groupId, create: false) { slot, now, deliveries in
                if let group = slot.classic { expireClassic(group, slot: slot, now: now, deliveries: &deliveries) }
                if slot.consumer != nil { expireConsumerMembers(slot, now: now) }
                if !resolvedPatterns.isEmpty { applyResolvedPatterns(resolvedPatterns, slot, now: now) }
                if checkOffsets { expireOffsets(slot, now: now) }
            }
        }
    }
}
