// Record batches for the broker tests.

import KafkaRecords

enum RecordBatchBuilderShim {
    static func build(_ values: [String], firstTimestamp: Int64) throws -> [UInt8] {
        try RecordBatchBuilder().build(
            values.enumerated().map { index, value in
                Record(offset: Int64(index), timestamp: firstTimestamp + Int64(index), key: nil, value: Array(value.utf8))
            })
    }
}
