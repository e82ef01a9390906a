// Compaction keeps the latest value per key at its original offset, removes tombstones
// only after delete.retention.ms, leaves the active segment and transaction markers alone,
// and recompresses rewritten batches with their own codec.

import KafkaRecords
@testable import LogStorage
import SystemCalls
import TestSupport
import Testing

func keyedBatch(_ entries: [(String, String?)], codec: CompressionCodec = .none, timestamp: Int64 = 1_000) -> [UInt8] {
    var builder = RecordBatchBuilder()
    builder.compression = codec
    return try! builder.build(entries.enumerated().map { index, entry in
        Record(offset: Int64(index), timestamp: timestamp + Int64(index), key: Array(entry.0.utf8), value: entry.1.map { Array($0.utf8) })
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
                result.append((record.offset, String(decoding: record.key ?? [], as: UTF8.self),
                               record.value.map { String(decoding: $0, as: UTF8.self) }))
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
        _ = try log.append(keyedBatch([("a", "a1"), ("b", "b1"), ("c", "c1")]), leaderEpoch: 0, now: 0)       // 0-2
        _ = try log.append(keyedBatch([("a", "a2"), ("b", "b2")], codec: .snappy), leaderEpoch: 0, now: 0)   // 3-4
        try log.roll(now: 0)
        _ = try log.append(keyedBatch([("a", "a3")]), leaderEpoch: 0, now: 0)                                // 5 (active)
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
        _ = try log.append(keyedBatch([("a", nil)], codec: .gzip), leaderEpoch: 0, now: 0)   // tombstone for a
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
        _ = try log.append(TransactionMarker(type: .commit, coordinatorEpoch: 1).batch(producerId: 5, producerEpoch: 0, timestamp: 1), leaderEpoch: 0, now: 0)
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
}
