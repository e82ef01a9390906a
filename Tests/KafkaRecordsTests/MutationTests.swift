// Random mutations of valid batches (bit flips, truncations, inserted bytes, hostile
// lengths) through the parser, the record decoder and produce's framing check: each must
// either pass or throw, never trap or hang.

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
            // Parse, skip the CRC (most mutations would stop there), decode every record, and
            // walk them as produce does, inflating a piece at a time.
            guard let batch = try? RecordBatch(bytes: bytes) else { continue }
            let framed = (try? batch.validateRecordFraming(decompressionLimit: 1 << 20)) != nil
            if (try? batch.records(decompressionLimit: 1 << 20)) != nil {
                parsed += 1
                #expect(framed, "every record decodes, yet the framing check refuses the batch")
            }
        }
        #expect(parsed > 0)
    }
}
