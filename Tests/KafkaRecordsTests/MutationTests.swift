// Random mutations of valid batches (bit flips, truncations, inserted bytes, hostile
// lengths) through the parser: each must either parse or throw, never trap or hang.

import KafkaRecords
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

/// A small deterministic generator, so a failing mutation can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
    guard !bytes.isEmpty else { bytes = [UInt8.random(in: 0...255, using: &generator)]; return }
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
        let position = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
        case 1: bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 2: bytes.removeSubrange(position...)
        case 3: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
        case 4: bytes[position] = [0x00, 0x7F, 0x80, 0xFF][Int.random(in: 0..<4, using: &generator)]
        default:
            // A hostile length: 0xFFFFFFFF or 0x7FFFFFFF over four bytes.
            let value: UInt8 = Bool.random(using: &generator) ? 0xFF : 0x7F
            for index in position..<min(position + 4, bytes.count) { bytes[index] = index == position ? value : 0xFF }
        }
        if bytes.isEmpty { return }
    }
}
