// Compaction keeps the latest value per key at its original offset, removes tombstones
// only after delete.retention.ms, leaves the active segment and transaction markers alone,
// and recompresses rewritten batches with their own codec.

import Glibc
import KafkaRecords
import Synchronization
import SystemCalls
import TestSupport
import Testing

@testable import LogStorage

func keyedBatch(_ entries: [(String, String?)], codec: CompressionCodec = .none, timestamp: Int64 = 1_000) -> [UInt8] {
    var builder = RecordBatchBuilder()
    builder.compression = codec
    return try! builder.build(
        entries.enumerated().map { index, entry in
            Record(
                offset: Int64(index), timestamp: timestamp + Int64(index), key: Array(entry.0.utf8), value: entry.1.map { Array($0.utf8) })
        })
}

func contents(_ log: PartitionLog) throws -> [(offset: Int64, key: String, value: String?)] {
    var result: [(Int64, String, String?)] = []
    var offset = log.logStartOffset
    while offset < log.logEndOffset {
        let read = try log.read(from: offset, maxBytes: 1 << 20, minOneBatch: true)
        let batches = try RecordBatch.batches(in: try bytes(of: read))
        guard let last = batches.last else { break }
        for batch in batches where !batch.isControl {
            for record in try batch.records() where record.offset >= offset {
                result.append(
                    (
                        record.offset, String(decoding: record.key ?? [], as: UTF8.self),
                        record.value.map { String(decoding: $0, as: UTF8.self) }
                    ))
            }
        }
        offset = last.nextOffset
    }
    return result
}

@Suite struct CompactionTests {
    func compactedLog() throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        configuration.deleteRetentionMilliseconds = 1_000
        return try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
    }

    @Test func latestValuePerKeyKeepsItsOffset() throws {
        let log = try compactedLog()
        _ = try log.append(keyedBatch([("a", "a1"), ("b", "b1"), ("c", "c1")]), leaderEpoch: 0, now: 0)  // 0-2
        _ = try log.append(keyedBatch([("a", "a2"), ("b", "b2")], codec: .snappy), leaderEpoch: 0, now: 0)  // 3-4
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("a", "a3")]), leaderEpoch: 0, now: 0)  // 5 (active)
        let result = try log.compact(now: 0)
        #expect(result.recordsRemoved == 2)
        let after = try contents(log)
        #expect(after.map(\.offset) == [2, 3, 4, 5])
        #expect(after.map(\.value) == ["c1", "a2", "b2", "a3"])
        #expect(log.logEndOffset == 6)
        // The rewritten batch kept its codec and its offset span.
        let read = try log.read(from: 3, maxBytes: 1 << 20, minOneBatch: true)
        let batch = try RecordBatch.batches(in: try bytes(of: read))[0]
        try batch.validate(denseOffsets: false)
        #expect(batch.compression == .snappy && batch.baseOffset == 3)
        // A consumer asking for a removed offset gets the next record.
        #expect(try contents(log).first?.offset == 2)
        #expect(try offsets(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)).first == 2)
        // Nothing left to remove: a second pass rewrites nothing.
        #expect(try log.compact(now: 0).segmentsRewritten == 0)
    }

    @Test func tombstonesOutliveDeleteRetentionOnly() throws {
        let log = try compactedLog()
        _ = try log.append(keyedBatch([("a", "a1"), ("b", "b1")]), leaderEpoch: 0, now: 0)
        _ = try log.append(keyedBatch([("a", nil)], codec: .gzip), leaderEpoch: 0, now: 0)  // tombstone for a
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("z", "z1")]), leaderEpoch: 0, now: 0)
        try log.compact(now: 10_000)
        // First pass: a1 goes, the tombstone stays (consumers must see the delete).
        #expect(try contents(log).map(\.key) == ["b", "a", "z"])
        #expect(try contents(log)[1].value == nil)
        // Before the horizon the tombstone survives another pass; after it, it goes.
        try log.compact(now: 10_500)
        #expect(try contents(log).map(\.key) == ["b", "a", "z"])
        try log.compact(now: 11_001)
        #expect(try contents(log).map(\.key) == ["b", "z"])
    }

    @Test func activeSegmentAndMarkersAreUntouched() throws {
        let log = try compactedLog()
        _ = try log.append(keyedBatch([("k", "v1")]), leaderEpoch: 0, now: 0)
        _ = try log.append(
            TransactionMarker(type: .commit, coordinatorEpoch: 1).batch(producerId: 5, producerEpoch: 0, timestamp: 1), leaderEpoch: 0,
            now: 0)
        _ = try log.append(keyedBatch([("k", "v2")]), leaderEpoch: 0, now: 0)
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("k", "v3"), ("k", "v4")]), leaderEpoch: 0, now: 0)
        try log.compact(now: 0)
        let read = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)
        let batches = try RecordBatch.batches(in: try bytes(of: read))
        #expect(batches.contains { $0.isControl && $0.baseOffset == 1 })
        // v3 and v4 share a key inside the active segment: both stay until it is closed.
        #expect(try contents(log).map(\.value) == ["v2", "v3", "v4"])
    }

    @Test func aDeleteRetentionOfInt64MaxKeepsTombstonesForever() throws {
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        configuration.deleteRetentionMilliseconds = .max
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        _ = try log.append(keyedBatch([("a", "a1")]), leaderEpoch: 0, now: 0)
        _ = try log.append(keyedBatch([("a", nil)]), leaderEpoch: 0, now: 0)
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("z", "z1")]), leaderEpoch: 0, now: 0)
        // The horizon is now + Int64.max: clamped, not an overflow trap.
        try log.compact(now: 10_000)
        try log.compact(now: .max - 1)
        #expect(try contents(log).map(\.key) == ["a", "z"])
    }

    @Test func deletePolicyTopicsAreNotCompacted() throws {
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: LogConfiguration(), now: 0)
        _ = try log.append(keyedBatch([("a", "1"), ("a", "2")]), leaderEpoch: 0, now: 0)
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("a", "3")]), leaderEpoch: 0, now: 0)
        #expect(try log.compact(now: 0) == CompactionResult())
        #expect(try contents(log).count == 3)
    }

    @Test func compactedLogsSurviveARestart() throws {
        let directory = TemporaryDirectory()
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in configuration })
            let log = try manager.createPartition(partitionA, configuration: configuration)
            for round in 0..<5 { _ = try log.append(keyedBatch([("a", "a\(round)"), ("b", "b\(round)")]), leaderEpoch: 0, now: 0) }
            try log.roll(now: 0)
            _ = try log.append(keyedBatch([("c", "c0")]), leaderEpoch: 0, now: 0)
            try log.compact(now: 0)
        }
        // Unclean restart: recovery CRC-checks the rewritten, non-dense batches.
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in configuration })
        let log = try #require(manager.partition(partitionA))
        #expect(try contents(log).map(\.value) == ["a4", "b4", "c0"])
        #expect(log.logEndOffset == 11)
    }

    func compactedLog(store: any FileStore = MemoryFileStore(), _ configure: (inout LogConfiguration) -> Void) throws -> PartitionLog {
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        configure(&configuration)
        return try PartitionLog.create(partitionA, store: store, configuration: configuration, now: 0)
    }

    /// A closed segment of `count` updates of key "k" (all but the last removable), after
    /// `others` records of keys of their own.
    func closeSegment(_ log: PartitionLog, updates count: Int, others: Int = 0, timestamp: Int64 = 1_000) throws {
        let entries = (0..<others).map { ("a\($0)", Optional("kept")) } + (0..<count).map { ("k", Optional("v\($0)")) }
        _ = try log.append(keyedBatch(entries, timestamp: timestamp), leaderEpoch: 0, now: timestamp)
        try log.roll(now: timestamp)
    }

    /// Kafka's min.cleanable.dirty.ratio: a pass rereads the log only when more than that
    /// share of it is new since the last pass.
    @Test func aPassRunsOnlyWhenEnoughIsDirty() throws {
        let log = try compactedLog { _ in }
        try closeSegment(log, updates: 30, others: 20)
        #expect(try log.compact(now: 2_000).segmentsRead == 1)
        #expect(try log.compact(now: 2_000).segmentsRead == 0, "nothing new: nothing read")
        try closeSegment(log, updates: 1)  // a sliver beside 21 clean records
        #expect(try log.compact(now: 2_000).segmentsRead == 0)
        try closeSegment(log, updates: 50)
        let pass = try log.compact(now: 2_000)
        #expect(pass.segmentsRead == 3 && pass.recordsRemoved == 51)
        #expect(try contents(log).map(\.value) == Array(repeating: "kept", count: 20) + ["v49"])
    }

    /// min.compaction.lag.ms: records younger than the lag are not compacted yet.
    @Test func youngRecordsWaitForTheMinimumLag() throws {
        let log = try compactedLog { $0.minimumCompactionLagMilliseconds = 10_000 }
        try closeSegment(log, updates: 5, timestamp: 1_000)
        #expect(try log.compact(now: 5_000).segmentsRead == 0)
        #expect(try contents(log).count == 5)
        #expect(try log.compact(now: 11_005).recordsRemoved == 4)
        #expect(try contents(log).map(\.value) == ["v4"])
    }

    /// max.compaction.lag.ms: dirty records older than the lag are cleaned below the ratio,
    /// and the active segment of a compacted topic rolls once it is that old.
    @Test func oldRecordsAreCleanedByTheMaximumLag() throws {
        let log = try compactedLog {
            $0.minimumCleanableDirtyRatio = 0.99
            $0.maximumCompactionLagMilliseconds = 60_000
        }
        try closeSegment(log, updates: 100, timestamp: 1_000)
        #expect(try log.compact(now: 2_000).recordsRemoved == 99)
        try closeSegment(log, updates: 2, timestamp: 3_000)  // 2 records against the cleaned one: under the ratio
        #expect(try log.compact(now: 4_000).segmentsRead == 0)
        #expect(try log.compact(now: 63_001).segmentsRead == 0, "exactly the lag: not yet")
        #expect(try log.compact(now: 63_002).recordsRemoved == 2)
        #expect(try contents(log).map(\.value) == ["v1"])
        // The active segment rolls at the lag even though segment.ms is a week.
        let segments = log.segments.count
        _ = try log.append(keyedBatch([("k", "x")], timestamp: 70_000), leaderEpoch: 0, now: 70_000)
        _ = try log.append(keyedBatch([("k", "y")], timestamp: 140_000), leaderEpoch: 0, now: 140_000)
        #expect(log.segments.count == segments + 1)
    }

    /// A segment DeleteRecords removes while its cleaned copy is being written is not put
    /// back: the swap skips it and drops the copy.
    @Test func aSegmentDeletedDuringAPassStaysDeleted() throws {
        let store = MemoryFileStore()
        let log = try compactedLog(store: store) { _ in }
        try closeSegment(log, updates: 10)
        try closeSegment(log, updates: 10)
        log.beforeCompactionSwap = { _ = try? log.deleteRecords(before: 10, now: 0) }
        let pass = try log.compact(now: 2_000)
        #expect(pass.segmentsRead == 2 && pass.segmentsRewritten == 1)
        #expect(log.logStartOffset == 10)
        #expect(try contents(log).map(\.offset) == [19])
        #expect(try store.list(log.directory).allSatisfy { !$0.hasSuffix(".cleaned") })
    }

    /// Where the cleaner stopped, and the horizon of the tombstones it kept, survive a
    /// restart: clean segments are not reread, and due tombstones still go.
    @Test func progressSurvivesARestart() throws {
        let directory = TemporaryDirectory()
        var configuration = LogConfiguration()
        configuration.cleanupPolicy = .compact
        configuration.deleteRetentionMilliseconds = 1_000
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in configuration })
            let log = try manager.createPartition(partitionA, configuration: configuration)
            _ = try log.append(keyedBatch([("a", "a1"), ("b", "b1"), ("a", nil)]), leaderEpoch: 0, now: 0)
            try log.roll(now: 0)
            #expect(try log.compact(now: 10_000).segmentsRead == 1)
            try manager.shutdown()
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in configuration })
        let log = try #require(manager.partition(partitionA))
        #expect(try log.compact(now: 10_500).segmentsRead == 0, "clean and no tombstone due: nothing reread")
        #expect(try contents(log).map(\.key) == ["b", "a"])
        #expect(try log.compact(now: 11_001).segmentsRead == 1)
        #expect(try contents(log).map(\.key) == ["b"])
    }

    @Test func aDeletedPartitionIsNotCompacted() throws {
        let log = try compactedLog { _ in }
        try closeSegment(log, updates: 10)
        log.markDeleted()
        #expect(try log.compact(now: 2_000) == CompactionResult())
    }

    /// Kafka cleans when the dirty share is above the ratio: exactly at it is not enough.
    @Test func aDirtyShareEqualToTheRatioWaits() throws {
        let log = try compactedLog { _ in }
        _ = try log.append(keyedBatch((0..<10).map { ("a\($0)", "v") }), leaderEpoch: 0, now: 0)
        try log.roll(now: 0)
        #expect(try log.compact(now: 1_000).segmentsRead == 1)
        _ = try log.append(keyedBatch((0..<10).map { ("b\($0)", "v") }), leaderEpoch: 0, now: 0)  // the same size, all dirty
        try log.roll(now: 0)
        #expect(try log.compact(now: 1_000).segmentsRead == 0, "0.5 is not above 0.5")
        var configuration = log.currentConfiguration
        configuration.minimumCleanableDirtyRatio = 0.49
        log.update(configuration: configuration)
        #expect(try log.compact(now: 1_000).segmentsRead == 2)
    }

    /// A record exactly min.compaction.lag.ms old may be cleaned (Kafka waits while the
    /// newest record is younger than the lag).
    @Test func theMinimumLagBoundary() throws {
        let log = try compactedLog { $0.minimumCompactionLagMilliseconds = 10_000 }
        try closeSegment(log, updates: 5, timestamp: 1_000)  // newest record at 1_004
        #expect(try log.compact(now: 11_003).segmentsRead == 0)
        #expect(try log.compact(now: 11_004).recordsRemoved == 4)
    }

    /// A clean segment holding records newer than the lag (a future CreateTime, say) does not
    /// hold back older dirty ones: Kafka applies the lag to dirty segments only.
    @Test func aYoungCleanSegmentDoesNotBlockOlderDirtyOnes() throws {
        let log = try compactedLog { _ in }
        try closeSegment(log, updates: 3, timestamp: 1_000_000)
        #expect(try log.compact(now: 2_000).recordsRemoved == 2)
        var configuration = log.currentConfiguration
        configuration.minimumCompactionLagMilliseconds = 10_000
        log.update(configuration: configuration)
        try closeSegment(log, updates: 3, timestamp: 1_000)
        let pass = try log.compact(now: 20_000)
        #expect(pass.segmentsRead == 2 && pass.recordsRemoved == 3)
    }

    /// Only compacted topics roll at max.compaction.lag.ms.
    @Test func deletePolicyTopicsDoNotRollAtTheCompactionLag() throws {
        var configuration = LogConfiguration()
        configuration.maximumCompactionLagMilliseconds = 1_000
        let log = try PartitionLog.create(partitionA, store: MemoryFileStore(), configuration: configuration, now: 0)
        _ = try log.append(keyedBatch([("k", "x")]), leaderEpoch: 0, now: 0)
        _ = try log.append(keyedBatch([("k", "y")]), leaderEpoch: 0, now: 5_000)
        #expect(log.segments.count == 1)
    }

    /// Deleting the partition stops a pass under way: nothing is swapped in, no copy is left,
    /// and the deletion waits for the pass to let go.
    @Test func deletionStopsARunningPass() throws {
        let store = MemoryFileStore()
        let log = try compactedLog(store: store) { _ in }
        try closeSegment(log, updates: 10)
        let before = try contents(log)
        let deleter = Mutex<OSThread?>(nil)
        log.beforeCompactionSwap = {
            deleter.withLock { $0 = try? OSThread(name: "test-delete") { log.markDeleted() } }
            while !log.isDeleted.load(ordering: .acquiring) { usleep(1_000) }
        }
        #expect(try log.compact(now: 2_000) == CompactionResult())
        deleter.withLock { $0 }?.join()
        #expect(try contents(log).map(\.value) == before.map(\.value))
        #expect(try store.list(log.directory).allSatisfy { !$0.hasSuffix(".cleaned") })
        #expect(try log.compact(now: 3_000) == CompactionResult(), "no pass after deletion")
    }
}
