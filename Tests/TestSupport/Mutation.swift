// Deterministic input mutation for the "never trap" tests of the decoders: the same seed
// replays the same inputs, so a failure can be reproduced.

/// SplitMix64: small, fast, and good enough to drive mutations.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One to four edits at random places: bit flips, random bytes, truncation, insertion,
/// boundary bytes and hostile four-byte lengths (0xFFFFFFFF, 0x7FFFFFFF).
public func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
    guard !bytes.isEmpty else {
        bytes = [UInt8.random(in: 0...255, using: &generator)]
        return
    }
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
        let position = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
        case 1: bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 2: bytes.removeSubrange(position...)
        case 3: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
        case 4: bytes[position] = [0x00, 0x7F, 0x80, 0xFF][Int.random(in: 0..<4, using: &generator)]
        default:
            let value: UInt8 = Bool.random(using: &generator) ? 0xFF : 0x7F
            for index in position..<min(position + 4, bytes.count) { bytes[index] = index == position ? value : 0xFF }
        }
        if bytes.isEmpty { return }
    }
}
