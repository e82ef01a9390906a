// Crash recovery: a torn tail (cut at every byte of the last batch) or flipped bytes reopen
// at the last valid batch with the valid data intact; missing indexes are rebuilt; a roll
// moves the recovery point, below which damage is reported and kept; the clean-shutdown
// marker and the directory lock do what they say.

import Glibc
import KafkaRecords
import KafkaWire
import Synchronization
import SystemCalls
import TestSupport
import Testing

@testable import LogStorage

@Suite struct RecoveryTests {
    /// A log of three batches on disk; returns the directory, the log file path, and the
    /// byte offset where the last batch starts.
    func threeBatches() throws -> (TemporaryDirectory, String, Int) {
        let directory = TemporaryDirectory()
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
        _ = try log.append(makeBatch(count: 3), leaderEpoch: 0, now: 0)
        _ = try log.append(makeBatch(count: 2, codec: .gzip), leaderEpoch: 0, now: 0)
        let lastStart = Int(log.sizeInBytes)
        _ = try log.append(makeBatch(count: 4, codec: .lz4), leaderEpoch: 0, now: 0)
        // No shutdown(): as if the process was killed.
        return (directory, directory.path + "/" + partitionA.directoryName + "/00000000000000000000.log", lastStart)
    }

    @Test func tornTailAtEveryBytePositionRecoversTheValidPrefix() throws {
        let (directory, path, lastStart) = try threeBatches()
        let file = try System.open(path, .readWrite)
        let size = Int(try System.fileSize(file))
        let original = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = (try? System.pread(file, into: UnsafeMutableRawBufferPointer(buffer), at: 0)) ?? 0
        }
        System.close(file)
        for cut in lastStart..<size {
            let rewrite = try System.open(path, [.readWrite, .truncate])
            try Array(original[0..<cut]).withUnsafeBytes { try System.pwrite(rewrite, $0, at: 0) }
            System.close(rewrite)
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try #require(manager.partition(partitionA))
            #expect(log.logEndOffset == 5, "cut at \(cut)")
            #expect(manager.recoveredPartitions[partitionA] == Int64(cut - lastStart) || cut == lastStart)
            #expect(try offsets(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)) == [0, 1, 2, 3, 4])
            // Appends continue right after the valid prefix.
            #expect(try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0).baseOffset == 5)
        }
    }

    @Test func flippedBytesCutTheLogAtTheDamagedBatch() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let (directory, path, lastStart) = try threeBatches()
            let file = try System.open(path, .readWrite)
            let size = Int(try System.fileSize(file))
            // Past the batch's baseOffset/length/epoch, which the CRC does not cover.
            let position = Int.random(in: (lastStart + RecordBatchLayout.crc)..<size, using: &generator)
            var byte: [UInt8] = [0]
            _ = try byte.withUnsafeMutableBytes { try System.pread(file, into: $0, at: Int64(position)) }
            byte[0] ^= UInt8.random(in: 1...255, using: &generator)
            try byte.withUnsafeBytes { try System.pwrite(file, $0, at: Int64(position)) }
            System.close(file)
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try #require(manager.partition(partitionA))
            #expect(log.logEndOffset == 5, "flip at \(position)")
            #expect(try offsets(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)) == [0, 1, 2, 3, 4])
        }
    }

    @Test func cleanShutdownSkipsRecoveryAndKeepsEverything() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
            let log = try manager.createPartition(partitionA, configuration: smallSegments())
            for _ in 0..<20 { _ = try log.append(makeBatch(count: 3, valueSize: 40), leaderEpoch: 0, now: 0) }
            try log.deleteRecords(before: 4, now: 0)
            try manager.shutdown()
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
        let log = try #require(manager.partition(partitionA))
        #expect(manager.recoveredPartitions.isEmpty)
        #expect(log.logEndOffset == 60 && log.logStartOffset == 4)
        #expect(try offsets(of: try log.read(from: 57, maxBytes: 1 << 20, minOneBatch: true)) == [57, 58, 59])
    }

    @Test func missingIndexesAreRebuilt() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments(5_000) })
            let log = try manager.createPartition(partitionA, configuration: smallSegments(5_000))
            for index in 0..<40 {
                _ = try log.append(makeBatch(count: 2, firstTimestamp: Int64(index) * 10, valueSize: 30), leaderEpoch: 0, now: 0)
            }
            try manager.shutdown()
        }
        let partitionDirectory = directory.path + "/" + partitionA.directoryName
        for name in try System.directoryEntries(partitionDirectory) where name.hasSuffix(".index") || name.hasSuffix(".timeindex") {
            try System.unlink(partitionDirectory + "/" + name)
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments(5_000) })
        let log = try #require(manager.partition(partitionA))
        #expect(log.logEndOffset == 80)
        #expect(try offsets(of: try log.read(from: 51, maxBytes: 1 << 20, minOneBatch: true)).first == 50)
        // Batch 20 holds timestamps 200-201 (offsets 40-41), batch 21 210-211 (42-43).
        #expect(try log.offset(forTimestamp: 205)?.offset == 42)
        let rebuilt = try System.directoryEntries(partitionDirectory).filter { $0.hasSuffix(".index") }
        #expect(!rebuilt.isEmpty)
        for name in rebuilt {
            let file = try System.open(partitionDirectory + "/" + name, .readOnly)
            #expect(try System.fileSize(file) > 0)
            System.close(file)
        }
    }

    @Test func aSecondManagerCannotTakeTheDirectory() throws {
        let directory = TemporaryDirectory()
        let first = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        #expect(throws: LogError.dataDirectoryLocked(directory.path)) {
            try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        }
        _ = first
    }

    @Test func memoryModeRunsTheSameLog() throws {
        let manager = try LogManager(dataDirectory: nil, configuration: { _ in smallSegments() })
        let log = try manager.createPartition(partitionA, configuration: smallSegments())
        for _ in 0..<10 { _ = try log.append(makeBatch(count: 2, valueSize: 80), leaderEpoch: 0, now: 0) }
        #expect(log.segmentCount > 1)
        let read = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true)
        // File regions over memfd: sendfile-able descriptors.
        #expect(try System.fileSize(read.regions[0].file.descriptor) > 0)
        #expect(try offsets(of: read).first == 0)
        try manager.deletePartition(partitionA)
        #expect(manager.partition(partitionA) == nil)
        #expect(manager.allPartitions.isEmpty)
    }
}

@Suite struct BackgroundWorkTests {
    @Test func theCleanerThreadAppliesRetentionAndCompaction() throws {
        var deleting = smallSegments(400)
        deleting.retentionBytes = 500
        var compacting = LogConfiguration()
        compacting.cleanupPolicy = .compact
        let compactedPartition = TopicPartition(topic: "state", partition: 0)
        let manager = try LogManager(dataDirectory: nil, configuration: { _ in LogConfiguration() }, flushPolicy: .everyMilliseconds(10))
        let retained = try manager.createPartition(partitionA, configuration: deleting)
        let compacted = try manager.createPartition(compactedPartition, configuration: compacting)
        for _ in 0..<20 { _ = try retained.append(makeBatch(count: 2, valueSize: 60), leaderEpoch: 0, now: 0) }
        for round in 0..<3 { _ = try compacted.append(keyedBatch([("k", "v\(round)")]), leaderEpoch: 0, now: 0) }
        try compacted.roll(now: 0)
        _ = try compacted.append(keyedBatch([("x", "y")]), leaderEpoch: 0, now: 0)
        try manager.startBackgroundWork(retentionCheckMilliseconds: 20, compactionCheckMilliseconds: 20)
        let deadline = System.monotonicNanoseconds() + 3_000_000_000
        func compactedCount() -> Int { (try? contents(compacted).count) ?? 0 }
        while System.monotonicNanoseconds() < deadline, retained.logStartOffset == 0 || compactedCount() > 2 {
            usleep(10_000)
        }
        #expect(retained.logStartOffset > 0)
        #expect(try contents(compacted).map(\.value) == ["v2", "y"])
        try manager.shutdown()
    }
}

@Suite struct DurabilityTests {
    @Test func everyAppendWaitsForTheSyncThread() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() }, flushPolicy: .everyAppend)
        let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
        let completed = Mutex<[Int32]>([])
        for _ in 0..<50 {
            _ = try log.append(makeBatch(count: 1), leaderEpoch: 0, now: 0)
            manager.whenDurable(log) { error in
                completed.withLock { $0.append(error == nil ? System.currentThreadId() : -1) }
            }
        }
        let deadline = System.monotonicNanoseconds() + 5_000_000_000
        while completed.withLock({ $0.count }) < 50 && System.monotonicNanoseconds() < deadline { usleep(1_000) }
        let threads = completed.withLock { $0 }
        #expect(threads.count == 50)
        #expect(!threads.contains(-1) && !threads.contains(System.currentThreadId()))
        // The recovery point advanced with the syncs: a kill now loses nothing to recovery.
        let point = try PartitionLog.readCheckpoint(store: manager.store, path: partitionA.directoryName + "/recovery-point")
        #expect(point == 50)
        try manager.shutdown()
    }

    @Test func pageCachePoliciesCompleteAtOnce() throws {
        let manager = try LogManager(dataDirectory: nil, configuration: { _ in LogConfiguration() })
        let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
        let called = Mutex(false)
        manager.whenDurable(log) { _ in called.withLock { $0 = true } }
        #expect(called.withLock { $0 })
    }

    @Test func recoveryReportsWhatItCut() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
            let log = try manager.createPartition(partitionA, configuration: LogConfiguration())
            _ = try log.append(makeBatch(count: 2), leaderEpoch: 0, now: 0)
            _ = try log.append(makeBatch(count: 2), leaderEpoch: 0, now: 0)
        }
        let path = directory.path + "/" + partitionA.directoryName + "/00000000000000000000.log"
        let file = try System.open(path, .readWrite)
        let size = try System.fileSize(file)
        try ([0x55] as [UInt8]).withUnsafeBytes { try System.pwrite(file, $0, at: size - 3) }
        System.close(file)
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in LogConfiguration() })
        let event = try #require(manager.recoveryEvents.first)
        #expect(event.path == partitionA.directoryName + "/00000000000000000000.log")
        #expect(event.position == Int64(makeBatch(count: 2).count))
        #expect(event.reason.contains("CRC"))
        #expect(event.description.contains("cut"))
    }

    @Test func aRollFlushesAndDamageBelowTheRecoveryPointIsKeptNotCut() throws {
        let directory = TemporaryDirectory()
        let partitionDirectory = directory.path + "/" + partitionA.directoryName
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
            let log = try manager.createPartition(partitionA, configuration: smallSegments())
            for _ in 0..<30 { _ = try log.append(makeBatch(count: 3, valueSize: 40), leaderEpoch: 0, now: 0) }
            let lastBase = try #require(log.segmentBaseOffsets.last)
            #expect(log.segmentCount > 2)
            // The flush runs off the appending thread; the checkpoint passes the last roll.
            #expect(
                waitUntil {
                    let point = try? PartitionLog.readCheckpoint(store: manager.store, path: partitionA.directoryName + "/recovery-point")
                    return (point ?? nil).map { $0 >= lastBase } ?? false
                })
            // No shutdown(): as if the process was killed.
        }
        // One flipped byte in the oldest segment's second batch, past its CRC field.
        let oldest = partitionDirectory + "/00000000000000000000.log"
        let file = try System.open(oldest, .readWrite)
        let position = Int64(makeBatch(count: 3, valueSize: 40).count + RecordBatchLayout.crc + 8)
        try ([0xA5] as [UInt8]).withUnsafeBytes { try System.pwrite(file, $0, at: position) }
        System.close(file)

        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
        let log = try #require(manager.partition(partitionA))
        // Flushed segments are not re-read: nothing is cut, every later record is served.
        #expect(log.logEndOffset == 90)
        #expect(manager.recoveredPartitions.isEmpty)
        #expect(try offsets(of: try log.read(from: 87, maxBytes: 1 << 20, minOneBatch: true)) == [87, 88, 89])
        #expect(try offsets(of: try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: false)).prefix(3) == [0, 1, 2])
    }

    @Test func damageFoundInAFlushedSegmentIsReportedAndKept() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
            let log = try manager.createPartition(partitionA, configuration: smallSegments())
            for _ in 0..<30 { _ = try log.append(makeBatch(count: 3, valueSize: 40), leaderEpoch: 0, now: 0) }
            try manager.shutdown()
        }
        // The oldest segment's indexes are gone and its second batch is damaged: rebuilding
        // them finds the damage, which is named, and the segment keeps its bytes.
        let partitionDirectory = directory.path + "/" + partitionA.directoryName
        try System.unlink(partitionDirectory + "/00000000000000000000.index")
        let oldest = partitionDirectory + "/00000000000000000000.log"
        let file = try System.open(oldest, .readWrite)
        let sizeBefore = try System.fileSize(file)
        try ([0xA5] as [UInt8]).withUnsafeBytes {
            try System.pwrite(file, $0, at: Int64(makeBatch(count: 3, valueSize: 40).count + RecordBatchLayout.crc + 8))
        }
        System.close(file)

        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
        let log = try #require(manager.partition(partitionA))
        let event = try #require(manager.recoveryEvents.first)
        #expect(event.inFlushedSegment && event.description.contains("kept, not cut"))
        #expect(log.logEndOffset == 90)
        let reopened = try System.open(oldest, .readOnly)
        #expect(try System.fileSize(reopened) == sizeBefore)
        System.close(reopened)
        #expect(try offsets(of: try log.read(from: 87, maxBytes: 1 << 20, minOneBatch: true)) == [87, 88, 89])
    }

    @Test func aStartHoldsNoDescriptorPerSegmentAndClosedIndexesLeaveMemory() throws {
        let directory = TemporaryDirectory()
        let names = (0..<40).map { TopicPartition(topic: "many", partition: Int32($0)) }
        do {
            let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
            for name in names {
                let log = try manager.createPartition(name, configuration: smallSegments())
                for index in 0..<12 {
                    _ = try log.append(makeBatch(count: 3, firstTimestamp: Int64(index) * 10, valueSize: 40), leaderEpoch: 0, now: 0)
                }
            }
            try manager.shutdown()
        }
        let manager = try LogManager(dataDirectory: directory.path, configuration: { _ in smallSegments() })
        // 40 partitions of 3 or more segments each: 360 files if each segment kept three open.
        // (Counted by path: other tests open files meanwhile.)
        #expect(try openFiles(under: directory.path) <= 1)  // the directory lock
        let log = try #require(manager.partition(names[7]))
        #expect(log.segmentCount > 2)
        let resident = log.lock.withLock { log.segments.map { $0.offsetIndex.isResident && $0.timeIndex.isResident } }
        #expect(resident == Array(repeating: false, count: resident.count - 1) + [true])
        // Lookups in closed segments read their index files: every offset and timestamp is found.
        for offset in Int64(0)..<36 {
            #expect(try offsets(of: try log.read(from: offset, maxBytes: 1, minOneBatch: true)).contains(offset))
        }
        #expect(try log.offset(forTimestamp: 41)?.offset == 13)
        // Appends after the start go on in the active segment, whose index takes them.
        _ = try log.append(makeBatch(count: 3, firstTimestamp: 500, valueSize: 40), leaderEpoch: 0, now: 0)
        #expect(try log.offset(forTimestamp: 500)?.offset == 36)
        // A truncation into a closed segment makes it the active one again.
        try log.truncate(to: 5)
        #expect(log.logEndOffset == 3)
        _ = try log.append(makeBatch(count: 3, valueSize: 40), leaderEpoch: 0, now: 0)
        #expect(try offsets(of: try log.read(from: 3, maxBytes: 1 << 20, minOneBatch: true)).prefix(3) == [3, 4, 5])
    }
}

/// The descriptors this process holds on files under `directory`.
func openFiles(under directory: String) throws -> Int {
    try System.directoryEntries("/proc/self/fd").filter { entry in
        var target = [CChar](repeating: 0, count: 4_096)
        let count = readlink("/proc/self/fd/" + entry, &target, target.count - 1)
        return count > 0 && String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix(directory)
    }.count
}

/// Leader epochs (KIP-101) as the log keeps them: each begins with its first batch or when a
/// leader takes over, a truncation drops those past the cut, and the checkpoint brings them
/// back after a restart, corrected by the batches written since (a checkpoint written late).
@Suite struct LeaderEpochTests {
    @Test func epochsBeginWithTheirBatchesAndSurviveTruncationAndRestarts() throws {
        let directory = TemporaryDirectory()
        let store = DiskFileStore(root: directory.path)
        let log = try PartitionLog.create(partitionA, store: store, configuration: LogConfiguration(), now: 0)
        _ = try log.append(makeBatch(count: 3), leaderEpoch: 0, now: 0)
        // A single broker's log, only ever in epoch 0, keeps no file.
        #expect(!store.exists(partitionA.directoryName + "/leader-epoch-checkpoint"))
        log.becomeLeader(epoch: 2)
        _ = try log.append(makeBatch(count: 2), leaderEpoch: 2, now: 0)
        // A copied batch of a later epoch begins that epoch where it starts.
        var copied = makeBatch(count: 4)
        RecordBatch.assignOffsets(in: &copied, batchStart: 0, baseOffset: 5, partitionLeaderEpoch: 5)
        _ = try log.appendAsFollower(copied, now: 0)
        #expect(
            log.leaderEpochCache.entries == [
                .init(epoch: 0, startOffset: 0), .init(epoch: 2, startOffset: 3), .init(epoch: 5, startOffset: 5),
            ])
        #expect(log.endOffset(forLeaderEpoch: 5)! == (5, 9))
        #expect(log.endOffset(forLeaderEpoch: 3)! == (2, 5))
        #expect(log.endOffset(forLeaderEpoch: 6) == nil)
        // Transaction markers are written in the latest epoch.
        #expect(log.latestLeaderEpoch == 5)

        try log.truncate(to: 5)
        #expect(log.leaderEpochCache.entries == [.init(epoch: 0, startOffset: 0), .init(epoch: 2, startOffset: 3)])
        var reopened = try PartitionLog.open(partitionA, store: store, configuration: LogConfiguration(), recover: true, now: 0).log
        #expect(reopened.leaderEpochCache == log.leaderEpochCache)

        // A checkpoint older than the log (epoch 7's start never written to it): the batches
        // past the producer snapshot put it back.
        let checkpoint = try store.open(partitionA.directoryName + "/leader-epoch-checkpoint", create: false)
        let before = try checkpoint.read(count: 4096, at: 0)
        _ = try reopened.append(makeBatch(count: 2), leaderEpoch: 7, now: 0)
        try System.ftruncate(checkpoint.descriptor, length: 0)
        try checkpoint.write(before, at: 0)
        reopened = try PartitionLog.open(partitionA, store: store, configuration: LogConfiguration(), recover: true, now: 0).log
        #expect(reopened.leaderEpochCache.entries.last == .init(epoch: 7, startOffset: 5))
        #expect(LeaderEpochCache(checkpointText: "0\n2\n0 0\n") == nil)  // a count that does not match
    }
}
