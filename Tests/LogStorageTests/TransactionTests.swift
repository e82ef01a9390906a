// Transactions in the log: the last stable offset held at the oldest open transaction,
// markers that end them, aborted transactions indexed in `.txnindex` for read_committed
// fetches, markers of fenced epochs refused, and all of it rebuilt after a kill -9 or a
// clean restart.

import KafkaRecords
import SystemCalls
import TestSupport
import Testing

@testable import LogStorage

@Suite struct TransactionTests {
    func transactionalBatch(producerId: Int64, epoch: Int16 = 0, sequence: Int32, count: Int = 2) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.isTransactional = true
        builder.producerId = producerId
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        return try! builder.build((0..<count).map { Record(offset: Int64($0), timestamp: 1_000, key: [1], value: [UInt8($0)]) })
    }

    /// Producer 7 commits offsets 0-1 (marker 2); producer 8 opens at 3-4; producer 7 opens
    /// 5-6 and aborts (marker 7); producer 8 is still open.
    func interleaved(_ log: PartitionLog) throws {
        _ = try log.append(transactionalBatch(producerId: 7, sequence: 0), leaderEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 0)
        try log.appendTransactionMarker(producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 3)
        _ = try log.append(transactionalBatch(producerId: 8, sequence: 0), leaderEpoch: 0, now: 1_000)
        _ = try log.append(transactionalBatch(producerId: 7, sequence: 2), leaderEpoch: 0, now: 1_000)
        try log.appendTransactionMarker(producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0, now: 1_000)
    }

    @Test func theLastStableOffsetWaitsForTheOldestOpenTransaction() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        try interleaved(log)
        #expect(log.highWatermark == 8)
        #expect(log.lastStableOffset == 3)
        #expect(try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true, maxOffset: log.lastStableOffset).lastStableOffset == 3)
        #expect(
            log.abortedTransactions(from: 0, to: 8) == [
                AbortedTransaction(producerId: 7, firstOffset: 5, lastOffset: 7, lastStableOffset: 3)
            ])
        #expect(log.abortedTransactions(from: 8, to: 9).isEmpty)
        #expect(log.activeProducers.map(\.currentTransactionStartOffset) == [-1, 3])
        try log.appendTransactionMarker(producerId: 8, producerEpoch: 0, commit: true, coordinatorEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 9)
    }

    @Test func aMarkerOfAFencedEpochIsRefused() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        _ = try log.append(transactionalBatch(producerId: 7, epoch: 3, sequence: 0), leaderEpoch: 0, now: 1_000)
        // The coordinator fences epoch 3 by aborting with epoch 4; epoch 3 can no longer write.
        try log.appendTransactionMarker(producerId: 7, producerEpoch: 4, commit: false, coordinatorEpoch: 0, now: 1_000)
        #expect(throws: LogError.sequence(.invalidProducerEpoch(current: 4, received: 3))) {
            try log.appendTransactionMarker(producerId: 7, producerEpoch: 3, commit: true, coordinatorEpoch: 0, now: 1_000)
        }
        #expect(throws: LogError.sequence(.invalidProducerEpoch(current: 4, received: 3))) {
            _ = try log.append(transactionalBatch(producerId: 7, epoch: 3, sequence: 2), leaderEpoch: 0, now: 1_000)
        }
        #expect(log.lastStableOffset == log.highWatermark)
    }

    @Test(arguments: [false, true])
    func transactionsSurviveARestart(clean: Bool) throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
            try interleaved(log)
            if clean { try manager.shutdown() }  // else as if killed: no snapshot of this state
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let log = try #require(manager.partition(partitionA))
        #expect(log.lastStableOffset == 3)
        #expect(
            log.abortedTransactions(from: 0, to: 8) == [
                AbortedTransaction(producerId: 7, firstOffset: 5, lastOffset: 7, lastStableOffset: 3)
            ])
        try log.appendTransactionMarker(producerId: 8, producerEpoch: 0, commit: false, coordinatorEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 9)
        #expect(log.abortedTransactions(from: 0, to: 9).map(\.producerId) == [7, 8])
    }

    @Test func aCoordinatorsWriteOfAFencedEpochIsRefused() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        // TxnOffsetCommit records: transactional, no sequence.
        _ = try log.append(transactionalBatch(producerId: 9, epoch: 2, sequence: -1), leaderEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 0)
        try log.appendTransactionMarker(producerId: 9, producerEpoch: 3, commit: false, coordinatorEpoch: 0, now: 1_000)
        #expect(log.lastStableOffset == 3)
        #expect(throws: LogError.sequence(.invalidProducerEpoch(current: 3, received: 2))) {
            _ = try log.append(transactionalBatch(producerId: 9, epoch: 2, sequence: -1), leaderEpoch: 0, now: 1_000)
        }
    }

    @Test func compactionSkipsAbortedRecordsAndStopsAtTheLastStableOffset() throws {
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        func keyed(_ value: UInt8, producerId: Int64 = -1, sequence: Int32 = -1) -> [UInt8] {
            var builder = RecordBatchBuilder()
            if producerId >= 0 {
                builder.isTransactional = true
                builder.producerId = producerId
                builder.producerEpoch = 0
                builder.baseSequence = sequence
            }
            return try! builder.build([Record(offset: 0, timestamp: 1_000, key: [7], value: [value])])
        }
        _ = try log.append(keyed(1), leaderEpoch: 0, now: 1_000)  // 0: committed value
        _ = try log.append(keyed(2, producerId: 5, sequence: 0), leaderEpoch: 0, now: 1_000)  // 1: aborted below
        try log.appendTransactionMarker(producerId: 5, producerEpoch: 0, commit: false, coordinatorEpoch: 0, now: 1_000)  // 2
        try log.roll(now: 1_000)
        _ = try log.append(keyed(3, producerId: 6, sequence: 0), leaderEpoch: 0, now: 1_000)  // 3: still open
        try log.roll(now: 1_000)
        _ = try log.append(keyed(4), leaderEpoch: 0, now: 1_000)
        try log.compact(now: 1_000)
        let read = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true, maxOffset: 3)
        let batches = try RecordBatch.batches(in: try bytes(of: read))
        // The aborted record is gone and did not replace the committed value; the marker stays.
        #expect(batches.filter { !$0.isControl }.flatMap { try! $0.records() }.map(\.value) == [[1]])
        #expect(batches.filter(\.isControl).count == 1)
        // The segment with the open transaction was not compacted away by the later value.
        #expect(try log.read(from: 3, maxBytes: 1 << 20, minOneBatch: true).byteCount > 0)
    }

    @Test func retentionDropsTheIndexWithItsSegment() throws {
        var configuration = LogConfiguration()
        configuration.segmentBytes = 200
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        try interleaved(log)
        try log.appendTransactionMarker(producerId: 8, producerEpoch: 0, commit: true, coordinatorEpoch: 0, now: 1_000)
        _ = try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 1_000)
        #expect(!log.abortedTransactions(from: 0, to: 10).isEmpty)
        try log.deleteRecords(before: log.highWatermark, now: 1_000)
        #expect(log.abortedTransactions(from: 0, to: 10).isEmpty)
    }
}
