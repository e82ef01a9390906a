// Random mutations of valid batches (bit flips, truncations, inserted bytes, hostile
// lengths) through the parser: each must either parse or throw, never trap or hang.

import KafkaRecords
import TestSupport
import Testing

@Suite struct MutationTests {
    @Test func mutatedBatchesNeverTrap() throws {
        var builders: [[UInt8]] = []
        for codec in CompressionCodec.allCases {
            var builder = RecordBatchBuilder()
            builder.compression = codec
            builders.append(try builder.build(RecordBatchTests.records))
        }
        var generator = SplitMix64(seed: 0x5EED)
        var parsed = 0
        for iteration in 0..<100_000 {
            var bytes = builders[iteration % builders.count]
            mutate(&bytes, using: &generator)
            // Parse, skip the CRC (most mutations would stop there), decode every record.
            if let batch = try? RecordBatch(bytes: bytes), (try? batch.records(decompressionLimit: 1 << 20)) != nil {
                parsed += 1
            }
        }
        #expect(parsed > 0)
    }
}
