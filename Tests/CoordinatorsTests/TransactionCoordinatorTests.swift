// The transaction coordinator against a manual clock: producer ids and epochs, fencing,
// the state machine, markers on every partition, timeouts, and recovery by replay.

import KafkaProtocol
import KafkaWire
import Synchronization
import Testing

@testable import Coordinators

final class RecordingMarkers: TransactionMarkerWriter {
    struct Marker: Equatable {
        var partition: TopicPartition
        var producerId: Int64
        var producerEpoch: Int16
        var commit: Bool
    }
    private let written = Mutex<[Marker]>([])
    var markers: [Marker] { written.withLock { $0 } }

    func writeMarkers(
        to partitions: [TopicPartition], producerId: Int64, producerEpoch: Int16, commit: Bool,
        _ done: @escaping @Sendable (Set<TopicPartition>) -> Void
    ) {
        written.withLock {
            $0 += partitions.map { Marker(partition: $0, producerId: producerId, producerEpoch: producerEpoch, commit: commit) }
        }
        done([])
    }
}

extension TransactionCoordinator {
    /// EndTxn's answer where it comes at once (the in-memory log and markers); nil when not.
    func endTransactionAnswered(transactionalId: String, producerId: Int64, producerEpoch: Int16, commit: Bool) -> ErrorCode? {
        let answer = Captured<ErrorCode>()
        endTransaction(transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch, commit: commit) {
            answer.set($0)
        }
        return answer.result
    }
}

final class CountingProducerIds: ProducerIdSource {
    private let next = Mutex<Int64>(1000)
    func nextProducerId() throws -> Int64 {
        next.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}

struct TransactionHarness {
    let clock = ManualClock()
    let log = MemoryCoordinatorLog()
    let markers = RecordingMarkers()
    let producerIds = CountingProducerIds()
    let coordinator: TransactionCoordinator

    init() {
        let clock = clock
        coordinator = TransactionCoordinator(
            configuration: TransactionConfiguration(), log: log, markers: markers,
            producerIds: producerIds, clock: { clock.milliseconds })
    }

    func restarted() -> TransactionCoordinator {
        let clock = clock
        let fresh = TransactionCoordinator(
            configuration: TransactionConfiguration(), log: log, markers: markers,
            producerIds: producerIds, clock: { clock.milliseconds })
        for (_, record) in log.records { #expect(fresh.replay(key: record.key, value: record.value)) }
        return fresh
    }
}

@Suite struct TransactionCoordinatorTests {
    let orders0 = TopicPartition(topic: "orders", partition: 0)
    let orders1 = TopicPartition(topic: "orders", partition: 1)

    @Test func aTransactionCommitsWithMarkersOnEveryPartition() {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        let producer = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(producer == .init(error: .none, producerId: 1000, producerEpoch: 0))
        #expect(
            coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0, orders1]) == .none)
        #expect(coordinator.describe("t")?.state == .ongoing)
        #expect(coordinator.verify(producerId: 1000, producerEpoch: 0, partition: orders0) == .none)
        #expect(
            coordinator.verify(producerId: 1000, producerEpoch: 0, partition: TopicPartition(topic: "other", partition: 0))
                == .invalidTxnState)
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == ErrorCode.none)
        #expect(harness.markers.markers.map(\.partition) == [orders0, orders1])
        #expect(harness.markers.markers.allSatisfy { $0.commit && $0.producerEpoch == 0 })
        #expect(coordinator.describe("t")?.state == .completeCommit)
        // A retried commit is answered again; an abort now is not.
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == ErrorCode.none)
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: false) == .invalidTxnState)
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 999, producerEpoch: 0, commit: true)
                == .invalidProducerIdMapping)
    }

    @Test func aSecondIncarnationFencesTheFirstAndAbortsItsTransaction() {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0])
        let second = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(second.error == .none && second.producerId == 1000 && second.producerEpoch == 2)
        #expect(harness.markers.markers == [.init(partition: orders0, producerId: 1000, producerEpoch: 1, commit: false)])
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .producerFenced)
        #expect(
            coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0]) == .producerFenced)
        #expect(coordinator.verify(producerId: 1000, producerEpoch: 0, partition: orders0) == .invalidProducerEpoch)
        // KIP-360: the current incarnation may bump itself; an older one is fenced.
        #expect(
            coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: 1000, producerEpoch: 2).producerEpoch
                == 3)
        #expect(
            coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: 1000, producerEpoch: 1).error
                == .producerFenced)
        #expect(
            coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 900_001, producerId: -1, producerEpoch: -1).error
                == .invalidTransactionTimeout)
    }

    @Test func aZombieCannotRecoverAfterANewIncarnation() {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        // A gets epoch 0, then B epoch 1.
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        let b = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(b.producerEpoch == 1)
        // A tries KIP-360 recovery with its old epoch: fenced, not handed B's epoch.
        #expect(
            coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: 1000, producerEpoch: 0).error
                == .producerFenced)
        // B bumping itself may retry that bump.
        let bumped = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: 1000, producerEpoch: 1)
        #expect(bumped.producerEpoch == 2)
        #expect(coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: 1000, producerEpoch: 1) == bumped)
    }

    @Test func aSilentTransactionIsAbortedAfterItsTimeout() {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 5_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0])
        _ = coordinator.initProducerId(transactionalId: "idle", timeoutMilliseconds: 5_000, producerId: -1, producerEpoch: -1)
        harness.clock.advance(by: 4_000)
        coordinator.expireTransactions()
        #expect(coordinator.describe("t")?.state == .ongoing)
        #expect(coordinator.describe("idle")?.state == .empty)  // idle ids live for transactional.id.expiration.ms
        harness.clock.advance(by: 1_001)
        coordinator.expireTransactions()
        #expect(coordinator.describe("t")?.state == .completeAbort)
        #expect(harness.markers.markers == [.init(partition: orders0, producerId: 1000, producerEpoch: 1, commit: false)])
        // The zombie is fenced.
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .producerFenced)
    }

    @Test func idleTransactionalIdsAreForgottenAtTheNextCheck() {
        var configuration = TransactionConfiguration()
        configuration.transactionalIdExpirationMilliseconds = 10_000
        configuration.transactionalIdExpirationCheckIntervalMilliseconds = 60_000
        let clock = ManualClock()
        let coordinator = TransactionCoordinator(
            configuration: configuration, log: MemoryCoordinatorLog(), markers: RecordingMarkers(),
            producerIds: CountingProducerIds(), clock: { clock.milliseconds })
        coordinator.expireTransactions()  // the first check runs at once
        _ = coordinator.initProducerId(transactionalId: "idle", timeoutMilliseconds: 5_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.initProducerId(transactionalId: "open", timeoutMilliseconds: 900_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "open", producerId: 1001, producerEpoch: 0, partitions: [orders0])
        clock.advance(by: 20_000)
        coordinator.expireTransactions()
        #expect(coordinator.describe("idle") != nil)  // expired, but the next id check is at 60 s
        clock.advance(by: 40_000)
        coordinator.expireTransactions()
        #expect(coordinator.describe("idle") == nil)
        #expect(coordinator.describe("open")?.state == .ongoing)  // an open transaction keeps its id
    }

    @Test func stateSurvivesARestartAndInterruptedCommitsComplete() throws {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        _ = coordinator.initProducerId(transactionalId: "open", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "open", producerId: 1000, producerEpoch: 0, partitions: [orders0])
        _ = coordinator.initProducerId(transactionalId: "done", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "done", producerId: 1001, producerEpoch: 0, partitions: [orders1])
        _ = coordinator.endTransactionAnswered(transactionalId: "done", producerId: 1001, producerEpoch: 0, commit: true)
        let restarted = harness.restarted()
        #expect(restarted.describe("open")?.state == .ongoing)
        #expect(restarted.describe("open")?.partitions == [orders0])
        #expect(restarted.describe("done")?.state == .completeCommit)
        #expect(restarted.verify(producerId: 1000, producerEpoch: 0, partition: orders0) == .none)
        #expect(restarted.list(states: ["Ongoing"], producerIds: [], minimumDurationMilliseconds: -1).map(\.transactionalId) == ["open"])
        #expect(restarted.list(states: [], producerIds: [1001], minimumDurationMilliseconds: -1).map(\.transactionalId) == ["done"])
        #expect(
            restarted.endTransactionAnswered(transactionalId: "open", producerId: 1000, producerEpoch: 0, commit: false) == ErrorCode.none)
    }
}

@Suite struct TransactionMarkerRetryTests {
    final class FlakyMarkers: TransactionMarkerWriter {
        private let failing = Mutex<Bool>(true)
        private let written = Mutex<Int>(0)
        var count: Int { written.withLock { $0 } }
        func heal() { failing.withLock { $0 = false } }
        func writeMarkers(
            to partitions: [TopicPartition], producerId: Int64, producerEpoch: Int16, commit: Bool,
            _ done: @escaping @Sendable (Set<TopicPartition>) -> Void
        ) {
            if failing.withLock({ $0 }) { return done(Set(partitions)) }
            written.withLock { $0 += partitions.count }
            done([])
        }
    }

    @Test func aMarkerThatCannotBeWrittenIsRetriedUntilItIs() {
        let clock = ManualClock()
        let markers = FlakyMarkers()
        let coordinator = TransactionCoordinator(
            configuration: TransactionConfiguration(), log: MemoryCoordinatorLog(), markers: markers,
            producerIds: CountingProducerIds(), clock: { clock.milliseconds })
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(
            transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [TopicPartition(topic: "a", partition: 0)])
        // The decision is stored: EndTxn succeeds, the transaction waits in PrepareCommit.
        #expect(
            coordinator.endTransactionAnswered(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == ErrorCode.none)
        #expect(coordinator.describe("t")?.state == .prepareCommit)
        #expect(
            coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: []) == .concurrentTransactions)
        markers.heal()
        coordinator.expireTransactions()
        #expect(coordinator.describe("t")?.state == .completeCommit)
        #expect(markers.count == 1)
    }
}

/// __transaction_state as a cluster leader has it: written at once, replicated when the test
/// says so (or refused, as after a lost leadership).
final class HeldReplicationLog: CoordinatorLog {
    let written = MemoryCoordinatorLog()
    private let waiting = Mutex<[@Sendable (ErrorCode) -> Void]>([])
    var partitionCount: Int32? { nil }
    var waitingCount: Int { waiting.withLock { $0.count } }

    func write(_ records: [CoordinatorRecord], partition: Int32, now: Int64, producer: (id: Int64, epoch: Int16)?) throws {
        try written.write(records, partition: partition, now: now, producer: producer)
    }

    func whenReplicated(partition: Int32, _ done: @escaping @Sendable (ErrorCode) -> Void) {
        waiting.withLock { $0.append(done) }
    }

    func replicate(_ outcome: ErrorCode = .none) {
        for done in waiting.withLock({ $0.take() }) { done(outcome) }
    }
}

extension Array {
    fileprivate mutating func take() -> Self {
        defer { self = [] }
        return self
    }
}

@Suite struct ReplicatedDecisionTests {
    let orders0 = TopicPartition(topic: "orders", partition: 0)
    let log = HeldReplicationLog()
    let markers = RecordingMarkers()
    let coordinator: TransactionCoordinator

    init() {
        let clock = ManualClock()
        coordinator = TransactionCoordinator(
            configuration: TransactionConfiguration(), log: log, markers: markers, producerIds: CountingProducerIds(),
            clock: { clock.milliseconds })
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0])
    }

    func end(commit: Bool = true) -> Captured<ErrorCode> {
        let answer = Captured<ErrorCode>()
        coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: commit) { answer.set($0) }
        return answer
    }

    @Test func noMarkerIsWrittenBeforeTheDecisionIsReplicated() {
        let answer = end()
        #expect(coordinator.describe("t")?.state == .prepareCommit)
        #expect(markers.markers.isEmpty)
        #expect(answer.result == nil)
        // While it completes, a retry and the next transaction wait their turn.
        #expect(end().result == .concurrentTransactions)
        #expect(
            coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: []) == .concurrentTransactions)
        coordinator.expireTransactions()
        #expect(log.waitingCount == 1)
        log.replicate()
        #expect(markers.markers.map(\.partition) == [orders0])
        #expect(answer.result == ErrorCode.none)
        #expect(coordinator.describe("t")?.state == .completeCommit)
    }

    @Test func aDecisionNotReplicatedIsAnsweredWithWhyAndARetryCompletesIt() {
        let answer = end()
        log.replicate(.notCoordinator)
        #expect(answer.result == .notCoordinator)
        #expect(markers.markers.isEmpty)
        // The decision may still stand: it stays, and the client's retry runs it to its end.
        #expect(coordinator.describe("t")?.state == .prepareCommit)
        #expect(end(commit: false).result == .concurrentTransactions)
        let retried = end()
        #expect(retried.result == nil)
        log.replicate()
        #expect(retried.result == ErrorCode.none)
        #expect(markers.markers.count == 1)
        #expect(coordinator.describe("t")?.state == .completeCommit)
    }

    @Test func theDeadlinePassCompletesADecisionNobodyRetries() {
        _ = end(commit: false)
        log.replicate(.coordinatorNotAvailable)
        coordinator.expireTransactions()
        log.replicate()
        #expect(markers.markers.map(\.commit) == [false])
        #expect(coordinator.describe("t")?.state == .completeAbort)
    }

    @Test func aNewIncarnationWaitsUntilTheFenceIsReplicated() {
        let first = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(first.error == .concurrentTransactions)
        #expect(coordinator.describe("t")?.state == .prepareAbort)
        #expect(markers.markers.isEmpty)
        log.replicate()
        #expect(markers.markers == [.init(partition: orders0, producerId: 1000, producerEpoch: 1, commit: false)])
        let retried = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(retried == .init(error: .none, producerId: 1000, producerEpoch: 2))
    }
}
