// Property test: random appends, reads, rolls, DeleteRecords, retention and restarts (clean
// and unclean) against a simple in-memory model of the log, on disk and in memory.

import KafkaRecords
import SystemCalls
import TestSupport
import Testing

@testable import LogStorage

struct LogModel {
    var records: [Int64: (timestamp: Int64, value: [UInt8])] = [:]
    var logStartOffset: Int64 = 0
    var logEndOffset: Int64 = 0
}

@Suite struct LogModelTests {
    @Test(arguments: [true, false])
    func randomOperationsMatchTheModel(onDisk: Bool) throws {
        var generator = SeededGenerator(seed: onDisk ? 11 : 12)
        let directory = TemporaryDirectory()
        let path: String? = onDisk ? directory.path : nil
        var configuration = smallSegments(2_000)
        configuration.retentionMilliseconds = -1
        var manager: LogManager? = try LogManager(dataDirectory: path, configuration: { _ in configuration })
        var log = try manager!.createPartition(partitionA, configuration: configuration)
        var model = LogModel()
        var clock: Int64 = 1_000
        for step in 0..<400 {
            clock += Int64.random(in: 0...50, using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<55:
                let count = Int.random(in: 1...6, using: &generator)
                let codec = CompressionCodec.allCases.randomElement(using: &generator)!
                let valueSize = Int.random(in: 0...200, using: &generator)
                let result = try log.append(
                    makeBatch(count: count, firstTimestamp: clock, valueSize: valueSize, codec: codec), leaderEpoch: 0, now: clock)
                #expect(result.baseOffset == model.logEndOffset, "step \(step)")
                for index in 0..<count {
                    model.records[model.logEndOffset + Int64(index)] = (
                        clock + Int64(index), [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: valueSize)
                    )
                }
                model.logEndOffset += Int64(count)
            case 55..<80:
                guard model.logEndOffset > model.logStartOffset else { continue }
                let offset = Int64.random(in: model.logStartOffset..<model.logEndOffset, using: &generator)
                let read = try log.read(from: offset, maxBytes: Int.random(in: 1...3_000, using: &generator), minOneBatch: true)
                let batches = try RecordBatch.batches(in: try bytes(of: read), allowPartialTail: true)
                #expect(!batches.isEmpty, "step \(step): nothing read at \(offset)")
                let records = try batches.flatMap { try $0.records() }
                #expect(records.contains { $0.offset == offset }, "step \(step): \(offset) missing")
                for record in records where record.offset >= model.logStartOffset {
                    #expect(model.records[record.offset]?.value == record.value, "step \(step): offset \(record.offset)")
                    #expect(model.records[record.offset]?.timestamp == record.timestamp)
                }
            case 80..<86:
                try log.roll(now: clock)
            case 86..<91:
                guard model.logEndOffset > model.logStartOffset else { continue }
                let target = Int64.random(in: model.logStartOffset...model.logEndOffset, using: &generator)
                model.logStartOffset = try log.deleteRecords(before: target, now: clock)
                #expect(model.logStartOffset == target)
            case 91..<94:
                var limited = configuration
                limited.retentionBytes = Int64.random(in: 1_000...6_000, using: &generator)
                log.update(configuration: limited)
                try log.applyRetention(now: clock)
                log.update(configuration: configuration)
                model.logStartOffset = log.logStartOffset
            default:
                // Restart, half the time uncleanly; in memory mode the files outlive nothing,
                // so only the disk store restarts.
                guard onDisk else { continue }
                if Bool.random(using: &generator) { try manager!.shutdown() }
                manager = nil
                manager = try LogManager(dataDirectory: path, configuration: { _ in configuration })
                log = try #require(manager!.partition(partitionA))
            }
            #expect(log.logEndOffset == model.logEndOffset, "step \(step)")
            #expect(log.logStartOffset == model.logStartOffset, "step \(step)")
        }
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 31)
    }
}
