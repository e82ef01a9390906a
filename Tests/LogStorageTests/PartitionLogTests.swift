// The partition log's contract: offsets assigned in place, validation before any byte is
// written, Kafka's read rules, segments and indexes, timestamps, DeleteRecords, retention.

import KafkaRecords
import SystemCalls
import TestSupport
import Testing

@testable import LogStorage

@Suite struct PartitionLogTests {
    @Test func appendAssignsOffsetsInPlaceAndKeepsBatchesAsSent() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        let first = try log.append(makeBatch(count: 3), leaderEpoch: 5, now: 0)
        let second = try log.append(makeBatch(count: 2, codec: .zstd), leaderEpoch: 5, now: 0)
        #expect(first == AppendResult(baseOffset: 0, lastOffset: 2, logAppendTime: -1, logStartOffset: 0))
        #expect(second.baseOffset == 3 && second.lastOffset == 4)
        #expect(log.logEndOffset == 5 && log.highWatermark == 5)
        let read = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)
        let batches = try RecordBatch.batches(in: try bytes(of: read))
        #expect(batches.count == 2)
        for batch in batches { try batch.validate() }
        #expect(batches[1].compression == .zstd && batches[1].partitionLeaderEpoch == 5)
        #expect(try offsets(of: read) == [0, 1, 2, 3, 4])
    }

    /// What a reader of a region gets up to (the records-out count): the read's end when it
    /// holds whole batches, else the last batch that ends within the bytes sent, found from
    /// the offset index's entry below the cut whatever the region's length.
    @Test func theOffsetAfterTheWholeBatchesOfARegion() throws {
        var configuration = LogConfiguration()
        configuration.indexIntervalBytes = 200
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        for _ in 0..<20 { _ = try log.append(makeBatch(count: 3, valueSize: 40), leaderEpoch: 0, now: 0) }
        let size = Int(log.sizeInBytes) / 20
        #expect(try log.read(from: 4, maxBytes: 1 << 20, minOneBatch: true).endOffset == 60)
        #expect(try log.read(from: 4, maxBytes: 1 << 20, minOneBatch: true, maxOffset: 31).endOffset == 33)
        // Cut at a byte limit: no end from the read; the walk finds it.
        #expect(try log.read(from: 4, maxBytes: size * 5 + 7, minOneBatch: true).endOffset == nil)
        for length in [size, size + 1, size * 5 + 7, size * 12 - 1, size * 19] {
            let sent = try offsets(of: try log.read(from: 3, maxBytes: length, minOneBatch: true))
            #expect(log.offsetAfterWholeBatches(readFrom: 3, length: length) == sent.last.map { $0 + 1 }, "\(length) bytes")
        }
        #expect(log.offsetAfterWholeBatches(readFrom: 3, length: size - 1) == 3)  // not even one whole batch
    }

    @Test func invalidBatchesWriteNothing() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        _ = try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0)
        var corrupt = makeBatch(count: 2)
        corrupt[corrupt.count - 1] ^= 0xFF
        // A valid batch followed by a corrupt one: neither is stored.
        #expect(throws: LogError.self) { try log.append(makeBatch(count: 1) + corrupt, leaderEpoch: 0, now: 0) }
        var magicOne = makeBatch(count: 1)
        magicOne[RecordBatchLayout.magic] = 1
        #expect(throws: LogError.self) { try log.append(magicOne, leaderEpoch: 0, now: 0) }
        #expect(throws: LogError.self) { try log.append(Array(makeBatch(count: 1).dropLast()), leaderEpoch: 0, now: 0) }
        var configuration = LogConfiguration()
        configuration.maximumBatchBytes = 100
        log.update(configuration: configuration)
        #expect(throws: LogError.batchTooLarge(size: makeBatch(count: 5).count, limit: 100)) {
            try log.append(makeBatch(count: 5), leaderEpoch: 0, now: 0)
        }
        #expect(log.logEndOffset == 1)
        #expect(log.sizeInBytes == Int64(makeBatch(count: 1).count))
    }

    @Test func readRules() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        for _ in 0..<4 { _ = try log.append(makeBatch(count: 5, valueSize: 100), leaderEpoch: 0, now: 0) }
        let batchSize = makeBatch(count: 5, valueSize: 100).count
        // A mid-batch offset returns its whole batch.
        let middle = try log.read(from: 7, maxBytes: 1 << 20, minOneBatch: true)
        #expect(try offsets(of: middle).first == 5)
        // max bytes cuts the last batch; min-one-batch returns a first batch larger than max.
        #expect(try log.read(from: 0, maxBytes: batchSize + 10, minOneBatch: true).byteCount == batchSize + 10)
        #expect(try log.read(from: 0, maxBytes: 10, minOneBatch: true).byteCount == batchSize)
        // Without min-one-batch, a first batch that does not fit gives nothing (Kafka answers the
        // partition empty rather than with a cut first batch); a later batch may still be cut.
        #expect(try log.read(from: 0, maxBytes: 10, minOneBatch: false).regions.isEmpty)
        #expect(try log.read(from: 0, maxBytes: batchSize + 10, minOneBatch: false).byteCount == batchSize + 10)
        #expect(try log.read(from: 0, maxBytes: 10, minOneBatch: true).firstBatchSize == batchSize)
        // At the end: nothing yet, not an error. Past it or before the start: out of range.
        #expect(try log.read(from: 20, maxBytes: 100, minOneBatch: true).regions.isEmpty)
        #expect(throws: LogError.offsetOutOfRange(requested: 21, logStartOffset: 0, logEndOffset: 20)) {
            try log.read(from: 21, maxBytes: 100, minOneBatch: true)
        }
        // An upper bound (read_committed's LSO) stops before the batch that reaches it.
        #expect(try offsets(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true, maxOffset: 10)) == Array(0..<10))
        #expect(try log.read(from: 10, maxBytes: 1 << 20, minOneBatch: true, maxOffset: 10).regions.isEmpty)
    }

    @Test func segmentsRollAndReadsCrossThem() throws {
        let directory = TemporaryDirectory()
        let store = DiskFileStore(root: directory.path)
        let log = try PartitionLog.create(partitionA, store: store, configuration: smallSegments(), now: 0)
        for _ in 0..<30 { _ = try log.append(makeBatch(count: 2, valueSize: 50), leaderEpoch: 0, now: 0) }
        #expect(log.segmentCount > 5)
        let names = try store.list(partitionA.directoryName)
        #expect(names.contains("00000000000000000000.log"))
        #expect(names.contains("00000000000000000000.index") && names.contains("00000000000000000000.timeindex"))
        #expect(names.filter { $0.hasSuffix(".log") }.count == log.segmentCount)
        var offset: Int64 = 0
        var seen: [Int64] = []
        while offset < log.logEndOffset {
            let read = try log.read(from: offset, maxBytes: 300, minOneBatch: true)
            let batchOffsets = try offsets(of: read)
            seen += batchOffsets
            offset = batchOffsets.last! + 1
        }
        #expect(seen == Array(0..<60))
        // segment.ms: an old active segment rolls on the next append.
        var configuration = smallSegments(1 << 30)
        configuration.segmentMilliseconds = 1_000
        log.update(configuration: configuration)
        let before = log.segmentCount
        _ = try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 10_000)
        #expect(log.segmentCount == before + 1)
    }

    @Test func timestampLookups() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: smallSegments(400), now: 0)
        // Timestamps 1000.., 2000.., 3000..; the middle batch's records are out of order.
        _ = try log.append(makeBatch(count: 3, firstTimestamp: 1_000), leaderEpoch: 0, now: 0)
        var builder = RecordBatchBuilder()
        let shuffled = try builder.build(
            [5_000, 2_000, 2_500].enumerated().map { index, timestamp in
                Record(offset: Int64(index), timestamp: Int64(timestamp), value: [1])
            })
        _ = try log.append(shuffled, leaderEpoch: 0, now: 0)
        _ = try log.append(makeBatch(count: 3, firstTimestamp: 3_000), leaderEpoch: 0, now: 0)
        #expect(try log.offset(forTimestamp: 0)! == (0, 1_000))
        #expect(try log.offset(forTimestamp: 1_001)! == (1, 1_001))
        #expect(try log.offset(forTimestamp: 1_003)! == (3, 5_000))  // first record at or after
        #expect(try log.offset(forTimestamp: 2_001)! == (3, 5_000))
        #expect(try log.offset(forTimestamp: 4_000)! == (3, 5_000))
        #expect(try log.offset(forTimestamp: 5_001) == nil)
        #expect(try log.maxTimestampRecord()! == (3, 5_000))
        builder.baseOffset = 0
    }

    @Test func readLengthsFollowKafkasLogSegmentRead() {
        // (available, first batch, max bytes, min one batch) -> bytes returned.
        let cases: [(Int, Int, Int, Bool, Int)] = [
            (1_000, 300, 500, true, 500), (1_000, 300, 500, false, 500),  // cut after the first batch
            (1_000, 300, 100, true, 300), (1_000, 300, 100, false, 0),  // the first batch does not fit
            (1_000, 300, 0, true, 300), (1_000, 300, 0, false, 0),
            (200, 200, 5_000, false, 200), (1_000, 300, 300, false, 300),
        ]
        for (available, first, maximum, minOne, expected) in cases {
            #expect(
                ReadResult.length(available: available, firstBatchSize: first, maxBytes: maximum, minOneBatch: minOne) == expected,
                "\(available) \(first) \(maximum) \(minOne)")
        }
    }

    @Test func timestampLookupsBelowAMovedLogStart() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: smallSegments(10_000), now: 0)
        for index in 0..<10 { _ = try log.append(makeBatch(count: 1, firstTimestamp: 1_000 + Int64(index)), leaderEpoch: 0, now: 0) }
        #expect(log.segmentCount == 1)
        // DeleteRecords inside the one segment: a time older than every retained record is
        // the log start; one of a deleted record finds the first retained one after it.
        #expect(try log.deleteRecords(before: 6, now: 0) == 6)
        #expect(try log.offset(forTimestamp: 0)! == (6, 1_006))
        #expect(try log.offset(forTimestamp: 1_002)! == (6, 1_006))
        #expect(try log.offset(forTimestamp: 1_008)! == (8, 1_008))
        #expect(try log.offset(forTimestamp: 1_010) == nil)
        // Retention that removed whole segments: the same rule.
        var configuration = smallSegments(200)
        configuration.retentionMilliseconds = 10_000
        let rolled = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        for index in 0..<20 {
            _ = try rolled.append(makeBatch(count: 1, firstTimestamp: Int64(index) * 1_000), leaderEpoch: 0, now: 0)
        }
        #expect(try rolled.applyRetention(now: 15_000) > 0)
        let start = rolled.logStartOffset
        #expect(start > 0)
        #expect(try rolled.offset(forTimestamp: 0)! == (start, start * 1_000))
    }

    @Test func logAppendTimeTopicsStampTheBrokerTime() throws {
        var configuration = LogConfiguration()
        configuration.timestampPolicy = .logAppendTime
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        let result = try log.append(makeBatch(count: 2), leaderEpoch: 0, now: 99_000)
        #expect(result.logAppendTime == 99_000)
        let batch = try RecordBatch.batches(in: try bytes(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)))[0]
        try batch.validate()
        #expect(try batch.records().map(\.timestamp) == [99_000, 99_000])
    }

    @Test func deleteRecordsAndRetention() throws {
        let store = MemoryFileStore()
        var configuration = smallSegments(500)
        let log = try PartitionLog.create(partitionA, store: store, configuration: configuration, now: 0)
        for index in 0..<20 {
            _ = try log.append(makeBatch(count: 2, firstTimestamp: Int64(index) * 1_000, valueSize: 60), leaderEpoch: 0, now: 0)
        }
        let segments = log.segmentCount
        #expect(try log.deleteRecords(before: 7, now: 0) == 7)
        #expect(log.logStartOffset == 7)
        #expect(throws: LogError.self) { try log.read(from: 6, maxBytes: 100, minOneBatch: true) }
        #expect(try offsets(of: try log.read(from: 7, maxBytes: 1 << 20, minOneBatch: true)).contains(7))
        #expect(throws: LogError.self) { try log.deleteRecords(before: 41, now: 0) }
        #expect(log.segmentCount < segments)
        // retention.bytes keeps the newest segments under the limit, never the active one.
        configuration.retentionBytes = 1_000
        configuration.retentionMilliseconds = -1
        log.update(configuration: configuration)
        #expect(try log.applyRetention(now: 0) > 0)
        #expect(log.sizeInBytes - Int64(log.segmentBaseOffsets.count > 1 ? 0 : 0) <= 1_000 + 500)
        #expect(log.logStartOffset == log.segmentBaseOffsets[0])
        // retention.ms drops segments whose newest record is older than the limit.
        configuration.retentionBytes = -1
        configuration.retentionMilliseconds = 5_000
        log.update(configuration: configuration)
        _ = try log.applyRetention(now: 19_000 + 5_001)
        #expect(log.segmentCount == 1)
        #expect(log.logEndOffset == 40)
        // compact-only topics are not touched by retention.
        configuration.cleanupPolicy = .compact
        log.update(configuration: configuration)
        #expect(try log.applyRetention(now: .max / 2) == 0)
    }

    @Test func deletingEverythingKeepsTheLogEnd() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        _ = try log.append(makeBatch(count: 4), leaderEpoch: 0, now: 0)
        #expect(try log.deleteRecords(before: 4, now: 0) == 4)
        #expect(log.logStartOffset == 4 && log.logEndOffset == 4)
        #expect(try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0).baseOffset == 4)
    }

    @Test func aDeletedSegmentStaysReadableForItsReader() throws {
        let directory = TemporaryDirectory()
        let log = try PartitionLog.create(partitionA, store: DiskFileStore(root: directory.path), configuration: smallSegments(300), now: 0)
        for _ in 0..<10 { _ = try log.append(makeBatch(count: 2, valueSize: 60), leaderEpoch: 0, now: 0) }
        let held = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)
        let expected = try bytes(of: held)
        try log.deleteRecords(before: log.logEndOffset - 1, now: 0)
        #expect(!(try System.directoryEntries(directory.path + "/" + partitionA.directoryName)).contains("00000000000000000000.log"))
        #expect(try bytes(of: held) == expected)
    }

    @Test func truncateCutsToAnOffset() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: smallSegments(300), now: 0)
        for _ in 0..<10 { _ = try log.append(makeBatch(count: 2, valueSize: 60), leaderEpoch: 0, now: 0) }
        try log.truncate(to: 6)
        #expect(log.logEndOffset == 6)
        #expect(try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0).baseOffset == 6)
        #expect(try offsets(of: try log.read(from: 4, maxBytes: 1 << 20, minOneBatch: true)).first == 4)
    }
}

extension PartitionLogTests {
    /// A follower below its leader's log start starts over there, and stays so once reopened.
    @Test func truncateFullyStartsTheLogOverAtAnOffset() throws {
        let directory = TemporaryDirectory()
        let store = DiskFileStore(root: directory.path)
        let log = try PartitionLog.create(partitionA, store: store, configuration: smallSegments(300), now: 0)
        for _ in 0..<10 { _ = try log.append(makeBatch(count: 2, valueSize: 60), leaderEpoch: 3, now: 0) }
        try log.truncateFully(startingAt: 100, now: 0)
        #expect(log.logStartOffset == 100 && log.logEndOffset == 100)
        #expect(log.segmentBaseOffsets == [100])
        #expect(log.leaderEpochCache.latestEpoch == nil)
        var builder = RecordBatchBuilder()
        builder.baseOffset = 100
        builder.partitionLeaderEpoch = 4
        _ = try log.appendAsFollower(try builder.build([Record(offset: 100, timestamp: 1, value: [1])]), now: 0)
        #expect(log.logEndOffset == 101)
        try log.flush()
        let reopened = try PartitionLog.open(partitionA, store: store, configuration: smallSegments(300), recover: true, now: 0).log
        #expect(reopened.logStartOffset == 100 && reopened.logEndOffset == 101)
        #expect(try offsets(of: try reopened.read(from: 100, maxBytes: 1 << 20, minOneBatch: true)) == [100])
    }
}

@Suite struct ProducerStateTests {
    func idempotentBatch(
        producerId: Int64 = 7, epoch: Int16 = 0, sequence: Int32, count: Int = 2,
        timestamp: Int64 = 1, transactional: Bool = false
    ) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.producerId = producerId
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        builder.isTransactional = transactional
        return try! builder.build((0..<count).map { Record(offset: Int64($0), timestamp: timestamp, value: [UInt8($0)]) })
    }

    @Test func idleProducersAreForgottenUnlessATransactionIsOpen() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        _ = try log.append(idempotentBatch(producerId: 1, sequence: 0, timestamp: 1_000), leaderEpoch: 0, now: 1_000)
        _ = try log.append(idempotentBatch(producerId: 2, sequence: 0, timestamp: 9_500), leaderEpoch: 0, now: 9_500)
        _ = try log.append(idempotentBatch(producerId: 3, sequence: 0, timestamp: 1_000, transactional: true), leaderEpoch: 0, now: 1_000)
        #expect(log.removeExpiredProducers(now: 10_000, expirationMilliseconds: 5_000) == 1)
        #expect(log.activeProducers.map(\.producerId) == [2, 3])
        // A marker ends the transaction and counts as activity, as Kafka stamps it.
        _ = try log.append(
            TransactionMarker(type: .commit, coordinatorEpoch: 0).batch(producerId: 3, producerEpoch: 0, timestamp: 9_800),
            leaderEpoch: 0, now: 9_800)
        #expect(log.removeExpiredProducers(now: 10_000, expirationMilliseconds: 5_000) == 0)
        // Forgotten: its next batch starts it afresh, whatever the sequence.
        _ = try log.append(idempotentBatch(producerId: 1, sequence: 40, timestamp: 10_000), leaderEpoch: 0, now: 10_000)
        #expect(log.activeProducers.map(\.producerId) == [1, 2, 3])
    }

    @Test func backgroundDeadlinesClampAtTheClocksEnd() {
        #expect(System.deadline(afterMilliseconds: 1_000, from: 5) == 1_000_000_005)
        #expect(System.deadline(afterMilliseconds: Int.max, from: 5) == .max)
        #expect(System.deadline(afterMilliseconds: 1, from: .max - 10) == .max)
    }

    @Test func sequencesEpochsAndDuplicates() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        #expect(try log.append(idempotentBatch(sequence: 0), leaderEpoch: 0, now: 0).baseOffset == 0)
        #expect(try log.append(idempotentBatch(sequence: 2), leaderEpoch: 0, now: 0).baseOffset == 2)
        // A retry of either of the last batches: its original offsets, nothing appended.
        let retry = try log.append(idempotentBatch(sequence: 0), leaderEpoch: 0, now: 0)
        #expect(retry.isDuplicate && retry.baseOffset == 0 && retry.lastOffset == 1)
        #expect(log.logEndOffset == 4)
        // A gap.
        #expect(throws: LogError.sequence(.outOfOrderSequence(expected: 4, received: 6))) {
            try log.append(idempotentBatch(sequence: 6), leaderEpoch: 0, now: 0)
        }
        // A new epoch starts at 0; the old one is then fenced.
        #expect(throws: LogError.sequence(.outOfOrderSequence(expected: 0, received: 4))) {
            try log.append(idempotentBatch(epoch: 1, sequence: 4), leaderEpoch: 0, now: 0)
        }
        _ = try log.append(idempotentBatch(epoch: 1, sequence: 0), leaderEpoch: 0, now: 0)
        #expect(throws: LogError.sequence(.invalidProducerEpoch(current: 1, received: 0))) {
            try log.append(idempotentBatch(epoch: 0, sequence: 4), leaderEpoch: 0, now: 0)
        }
        // Other producers and plain batches are independent.
        _ = try log.append(idempotentBatch(producerId: 8, sequence: 100), leaderEpoch: 0, now: 0)
        _ = try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0)
        #expect(log.logEndOffset == 9)
    }

    @Test func onlyTheLastFiveBatchesAreRemembered() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        for batch in 0..<7 { _ = try log.append(idempotentBatch(sequence: Int32(batch * 2)), leaderEpoch: 0, now: 0) }
        #expect(try log.append(idempotentBatch(sequence: 4), leaderEpoch: 0, now: 0).isDuplicate)
        // Sequence 0 fell out of the window: no longer a duplicate, and out of order.
        #expect(throws: LogError.self) { try log.append(idempotentBatch(sequence: 0), leaderEpoch: 0, now: 0) }
    }

    @Test func stateIsRebuiltFromTheLogAfterAnUncleanRestart() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
            for batch in 0..<3 { _ = try log.append(idempotentBatch(sequence: Int32(batch * 2)), leaderEpoch: 0, now: 0) }
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let log = try #require(manager.partition(partitionA))
        let retry = try log.append(idempotentBatch(sequence: 4), leaderEpoch: 0, now: 0)
        #expect(retry.isDuplicate && retry.baseOffset == 4)
        #expect(try log.append(idempotentBatch(sequence: 6), leaderEpoch: 0, now: 0).baseOffset == 6)
    }

    @Test func snapshotsAtRollAndShutdownShortenTheReplay() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments(300) })
            let log = try manager.createPartition(partitionA, configuration: smallSegments(300))
            for batch in 0..<6 { _ = try log.append(idempotentBatch(sequence: Int32(batch * 2)), leaderEpoch: 0, now: 0) }
            try manager.shutdown()
        }
        let partitionDirectory = directory.path + "/" + partitionA.directoryName
        let snapshots = try System.directoryEntries(partitionDirectory).filter { $0.hasSuffix(".snapshot") }.sorted()
        #expect(snapshots.count == 2, "the newest two are kept: \(snapshots)")
        #expect(snapshots.last == "00000000000000000012.snapshot")
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments(300) })
        let log = try #require(manager.partition(partitionA))
        #expect(try log.append(idempotentBatch(sequence: 10), leaderEpoch: 0, now: 0).isDuplicate)
        #expect(try log.append(idempotentBatch(sequence: 12), leaderEpoch: 0, now: 0).baseOffset == 12)
    }

    @Test func aDamagedSnapshotFallsBackToAFullReplay() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
            for batch in 0..<3 { _ = try log.append(idempotentBatch(sequence: Int32(batch * 2)), leaderEpoch: 0, now: 0) }
            try manager.shutdown()
        }
        let path = directory.path + "/" + partitionA.directoryName + "/00000000000000000006.snapshot"
        let file = try System.open(path, .readWrite)
        try ([0xFF] as [UInt8]).withUnsafeBytes { try System.pwrite(file, $0, at: 5) }
        System.close(file)
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let log = try #require(manager.partition(partitionA))
        #expect(try log.append(idempotentBatch(sequence: 4), leaderEpoch: 0, now: 0).isDuplicate)
    }

    @Test func snapshotsRoundTrip() {
        var state = ProducerState()
        var builder = RecordBatchBuilder()
        builder.producerId = 3
        builder.producerEpoch = 2
        builder.baseSequence = 40
        let header = RecordBatchHeader(try! builder.build([Record(offset: 100, timestamp: 1, value: [1])]))!
        state.record(header)
        let loaded = ProducerState.load(snapshot: state.snapshot(at: 77))
        #expect(loaded?.offset == 77 && loaded?.state.entries == state.entries)
        var damaged = state.snapshot(at: 77)
        damaged[3] ^= 1
        #expect(ProducerState.load(snapshot: damaged) == nil)
    }
}

@Suite struct TimestampValidationTests {
    @Test func createTimeTimestampsTooFarAheadAreRefused() throws {
        var configuration = LogConfiguration()
        configuration.timestampAfterMaxMilliseconds = 1_000
        configuration.timestampBeforeMaxMilliseconds = 5_000
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        #expect(throws: LogError.invalidTimestamp(timestamp: 12_001, now: 10_000)) {
            try log.append(makeBatch(count: 2, firstTimestamp: 12_000), leaderEpoch: 0, now: 10_000)
        }
        #expect(throws: LogError.invalidTimestamp(timestamp: 4_000, now: 10_000)) {
            try log.append(makeBatch(count: 2, firstTimestamp: 4_000), leaderEpoch: 0, now: 10_000)
        }
        _ = try log.append(makeBatch(count: 2, firstTimestamp: 9_000), leaderEpoch: 0, now: 10_000)
        // LogAppendTime topics take the broker's time whatever the producer said.
        configuration.timestampPolicy = .logAppendTime
        log.update(configuration: configuration)
        _ = try log.append(makeBatch(count: 1, firstTimestamp: 99_999), leaderEpoch: 0, now: 10_000)
        #expect(log.logEndOffset == 3)
    }

    @Test func unboundedTimestampWindowsAcceptEverything() throws {
        var configuration = LogConfiguration()
        configuration.timestampAfterMaxMilliseconds = .max
        configuration.timestampBeforeMaxMilliseconds = .max
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        _ = try log.append(makeBatch(count: 1, firstTimestamp: 10_000_000), leaderEpoch: 0, now: 10_000)
        _ = try log.append(makeBatch(count: 1, firstTimestamp: 0), leaderEpoch: 0, now: 10_000)
        #expect(log.logEndOffset == 2)
    }
}
