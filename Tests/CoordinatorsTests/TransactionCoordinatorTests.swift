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

    func writeMarker(to partition: TopicPartition, producerId: Int64, producerEpoch: Int16, commit: Bool) throws {
        written.withLock { $0.append(Marker(partition: partition, producerId: producerId, producerEpoch: producerEpoch, commit: commit)) }
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
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .none)
        #expect(harness.markers.markers.map(\.partition) == [orders0, orders1])
        #expect(harness.markers.markers.allSatisfy { $0.commit && $0.producerEpoch == 0 })
        #expect(coordinator.describe("t")?.state == .completeCommit)
        // A retried commit is answered again; an abort now is not.
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .none)
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: false) == .invalidTxnState)
        #expect(
            coordinator.endTransaction(transactionalId: "t", producerId: 999, producerEpoch: 0, commit: true) == .invalidProducerIdMapping)
    }

    @Test func aSecondIncarnationFencesTheFirstAndAbortsItsTransaction() {
        let harness = TransactionHarness()
        let coordinator = harness.coordinator
        _ = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        _ = coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: [orders0])
        let second = coordinator.initProducerId(transactionalId: "t", timeoutMilliseconds: 60_000, producerId: -1, producerEpoch: -1)
        #expect(second.error == .none && second.producerId == 1000 && second.producerEpoch == 2)
        #expect(harness.markers.markers == [.init(partition: orders0, producerId: 1000, producerEpoch: 1, commit: false)])
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .producerFenced)
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
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .producerFenced)
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
        _ = coordinator.endTransaction(transactionalId: "done", producerId: 1001, producerEpoch: 0, commit: true)
        let restarted = harness.restarted()
        #expect(restarted.describe("open")?.state == .ongoing)
        #expect(restarted.describe("open")?.partitions == [orders0])
        #expect(restarted.describe("done")?.state == .completeCommit)
        #expect(restarted.verify(producerId: 1000, producerEpoch: 0, partition: orders0) == .none)
        #expect(restarted.list(states: ["Ongoing"], producerIds: [], minimumDurationMilliseconds: -1).map(\.transactionalId) == ["open"])
        #expect(restarted.list(states: [], producerIds: [1001], minimumDurationMilliseconds: -1).map(\.transactionalId) == ["done"])
        #expect(restarted.endTransaction(transactionalId: "open", producerId: 1000, producerEpoch: 0, commit: false) == .none)
    }
}

@Suite struct TransactionMarkerRetryTests {
    final class FlakyMarkers: TransactionMarkerWriter {
        struct Unavailable: Error {}
        private let failing = Mutex<Bool>(true)
        private let written = Mutex<Int>(0)
        var count: Int { written.withLock { $0 } }
        func heal() { failing.withLock { $0 = false } }
        func writeMarker(to partition: TopicPartition, producerId: Int64, producerEpoch: Int16, commit: Bool) throws {
            if failing.withLock({ $0 }) { throw Unavailable() }
            written.withLock { $0 += 1 }
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
        #expect(coordinator.endTransaction(transactionalId: "t", producerId: 1000, producerEpoch: 0, commit: true) == .none)
        #expect(coordinator.describe("t")?.state == .prepareCommit)
        #expect(
            coordinator.addPartitions(transactionalId: "t", producerId: 1000, producerEpoch: 0, partitions: []) == .concurrentTransactions)
        markers.heal()
        coordinator.expireTransactions()
        #expect(coordinator.describe("t")?.state == .completeCommit)
        #expect(markers.count == 1)
    }
}
