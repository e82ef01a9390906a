// Mutated SASL tokens through every mechanism's parser: a few hundred thousand, seeded so a
// failure replays, and none may crash or be accepted without the right credentials.

import Testing

@testable import Security

@Suite struct SaslFuzzTests {
    /// xorshift64*: deterministic, so a failing seed can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    }

    static func mutate(_ token: [UInt8], _ random: inout Random) -> [UInt8] {
        var bytes = token
        for _ in 0...random.below(4) {
            switch random.below(5) {
            case 0 where !bytes.isEmpty: bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            case 1 where !bytes.isEmpty: bytes.remove(at: random.below(bytes.count))
            case 2: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: random.below(bytes.count + 1))
            case 3: bytes.insert([0x2C, 0x3D, 0x00, 0x01][random.below(4)], at: random.below(bytes.count + 1))  // ',' '=' NUL 0x01
            default: bytes = Array(bytes.prefix(random.below(bytes.count + 1)))
            }
        }
        return bytes
    }

    @Test func mutatedTokensNeverCrashNorAuthenticate() {
        var random = Random(state: 0x5EED_5A51)
        let credential = ScramCredential(mechanism: .sha256, password: "right")
        let seeds: [(make: () -> any SaslExchange, tokens: [[UInt8]])] = [
            ({ PlainExchange { $0 == "alice" ? "right" : nil } }, [Array("\0alice\0wrong".utf8)]),
            (
                { ScramExchange(mechanism: .sha256) { $0 == "alice" ? credential : nil } },
                [Array("n,,n=alice,r=abcdef".utf8), Array("c=biws,r=abcdefXYZ,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".utf8)]
            ),
            (
                { OAuthBearerExchange(now: { 1_000 }) },
                [Array("n,,\u{1}auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTl9.\u{1}\u{1}".utf8)]
            ),
        ]
        var accepted = 0
        for round in 0..<200_000 {
            let seed = seeds[round % seeds.count]
            var exchange = seed.make()
            for token in seed.tokens {
                guard case .success(let step) = exchange.evaluate(Self.mutate(token, &random)) else { break }
                if case .success = step { accepted += 1 }
            }
        }
        // None of the seeds holds the right password or an unexpired token; mutations of them
        // cannot produce one.
        #expect(accepted == 0)
    }
}
