// Test doubles for the coordinator: a manual clock, an in-memory __consumer_offsets that
// can be told to fail, a fixed topic catalog, and a helper that captures parked responses.

import Coordinators
import KafkaProtocol
import KafkaWire
import Synchronization
import Testing

final class ManualClock: Sendable {
    private let now = Mutex<Int64>(1_000_000)
    var milliseconds: Int64 { now.withLock { $0 } }
    func advance(by milliseconds: Int64) { now.withLock { $0 += milliseconds } }
}

final class MemoryCoordinatorLog: CoordinatorLog {
    struct Failure: Error {}
    private let state = Mutex<(records: [(Int32, CoordinatorRecord)], failing: Bool)>(([], false))

    var records: [(partition: Int32, record: CoordinatorRecord)] { state.withLock { $0.records.map { ($0.0, $0.1) } } }
    var partitionCount: Int32? { nil }
    func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func write(_ records: [CoordinatorRecord], partition: Int32, now: Int64, producer: (id: Int64, epoch: Int16)?) throws {
        try state.withLock { state in
            if state.failing { throw Failure() }
            state.records += records.map { (partition, $0) }
        }
    }

    func whenReplicated(partition: Int32, _ done: @escaping @Sendable (ErrorCode) -> Void) { done(.none) }
}

struct FixedTopics: GroupTopicCatalog {
    var topics: [String: (id: Uuid, partitions: Int32)]

    init(_ partitions: [String: Int32]) {
        topics = partitions.mapValues { (Uuid.random(), $0) }
    }

    func topic(named name: String) -> (id: Uuid, partitions: Int32)? { topics[name] }
    func topicName(id: Uuid) -> String? { topics.first { $0.value.id == id }?.key }
    func subscribableTopicNames() -> [String] { topics.keys.sorted() }
}

/// A parked response: nil until the coordinator delivers it.
final class Captured<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    var result: Value? { value.withLock { $0 } }
    func set(_ new: Value) { value.withLock { $0 = new } }
}

struct Harness {
    let clock = ManualClock()
    let log = MemoryCoordinatorLog()
    let topics: FixedTopics
    let coordinator: GroupCoordinator

    init(configuration: GroupConfiguration = GroupConfiguration(), topics: [String: Int32] = ["orders": 6]) {
        self.topics = FixedTopics(topics)
        let clock = clock
        // Regex resolutions run in place, so that a heartbeat sees them at once.
        coordinator = GroupCoordinator(
            configuration: configuration, log: log, topics: self.topics, clock: { clock.milliseconds }, resolveRegexes: { $0() })
    }

    /// A coordinator over the same log and topics, as after a restart.
    func restarted() -> GroupCoordinator {
        let clock = clock
        return Self.replay(
            log,
            into: GroupCoordinator(
                configuration: coordinator.configuration, log: log, topics: topics, clock: { clock.milliseconds }, resolveRegexes: { $0() })
        )
    }

    static func replay(_ log: MemoryCoordinatorLog, into coordinator: GroupCoordinator) -> GroupCoordinator {
        for (_, record) in log.records { #expect(coordinator.replay(key: record.key, value: record.value)) }
        return coordinator
    }

    func join(
        _ group: String = "g", memberId: String = "", instanceId: String? = nil, protocols: [String] = ["range"],
        session: Int32 = 10_000, rebalance: Int32 = 30_000, requireKnownMemberId: Bool = false
    ) -> Captured<JoinGroupOutcome> {
        let captured = Captured<JoinGroupOutcome>()
        coordinator.join(
            JoinGroupInput(
                groupId: group, memberId: memberId, groupInstanceId: instanceId, clientId: "client", clientHost: "/127.0.0.1",
                protocolType: "consumer", protocols: protocols.map { ($0, Array($0.utf8)) }, sessionTimeoutMilliseconds: session,
                rebalanceTimeoutMilliseconds: rebalance, requireKnownMemberId: requireKnownMemberId)
        ) { captured.set($0) }
        return captured
    }

    func sync(
        _ group: String = "g", generation: Int32, memberId: String, instanceId: String? = nil,
        assignments: [(String, [UInt8])] = []
    ) -> Captured<SyncGroupOutcome> {
        let captured = Captured<SyncGroupOutcome>()
        coordinator.sync(
            groupId: group, generationId: generation, memberId: memberId, groupInstanceId: instanceId,
            protocolType: nil, protocolName: nil, assignments: assignments
        ) { captured.set($0) }
        return captured
    }

    func heartbeat(_ group: String = "g", generation: Int32, memberId: String, instanceId: String? = nil) -> ErrorCode {
        coordinator.heartbeat(groupId: group, generationId: generation, memberId: memberId, groupInstanceId: instanceId)
    }

    /// Advances the clock and runs the coordinator's deadline checks.
    func elapse(_ milliseconds: Int64) {
        clock.advance(by: milliseconds)
        coordinator.expireDeadlines()
    }
}
