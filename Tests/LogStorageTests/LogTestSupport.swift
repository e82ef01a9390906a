// Helpers for the log tests: batches with known records, temporary data directories, and
// reading back what a ReadResult's file regions hold.

import Glibc
import KafkaRecords
import KafkaWire
import SystemCalls
import TestSupport

@testable import LogStorage

func makeBatch(
    count: Int, firstTimestamp: Int64 = 1_000, keyPrefix: String = "k", valueSize: Int = 10,
    codec: CompressionCodec = .none
) -> [UInt8] {
    var builder = RecordBatchBuilder()
    builder.compression = codec
    let records = (0..<count).map { index in
        Record(
            offset: Int64(index), timestamp: firstTimestamp + Int64(index), key: Array("\(keyPrefix)\(index)".utf8),
            value: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: valueSize))
    }
    return try! builder.build(records)
}

/// The bytes a read returned, as the consumer would receive them.
func bytes(of result: ReadResult) throws -> [UInt8] {
    var all: [UInt8] = []
    for region in result.regions { all += try region.file.read(count: region.length, at: region.position) }
    return all
}

/// Offsets of every record in the whole batches of a read.
func offsets(of result: ReadResult) throws -> [Int64] {
    try RecordBatch.batches(in: try bytes(of: result), allowPartialTail: true).flatMap { try $0.records().map(\.offset) }
}

func smallSegments(_ bytes: Int64 = 1_000) -> LogConfiguration {
    var configuration = LogConfiguration()
    configuration.segmentBytes = bytes
    configuration.indexIntervalBytes = 100
    return configuration
}

let partitionA = TopicPartition(topic: "orders-eu", partition: 3)
