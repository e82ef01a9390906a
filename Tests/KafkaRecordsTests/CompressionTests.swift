// Each codec round-trips, accepts the framings real clients write (raw and xerial snappy,
// concatenated gzip members), and fails cleanly on corrupt or oversized input.

import KafkaRecords
import Testing

@Suite struct CompressionTests {
    static let text = Array(String(repeating: "Kafka wire protocol, compressed. ", count: 5_000).utf8)

    @Test(arguments: CompressionCodec.allCases)
    func roundTrip(codec: CompressionCodec) throws {
        for input in [[], [42], CompressionTests.text] as [[UInt8]] {
            let compressed = try Compression.compress(input, codec: codec)
            if codec != .none && input.count > 1_000 { #expect(compressed.count < input.count / 4) }
            #expect(try Compression.decompress(compressed[...], codec: codec) == input)
        }
    }

    /// Below the first piece and between pieces (the running total and, for snappy, what
    /// the blocks before left of the limit).
    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func inflationIsBounded(codec: CompressionCodec) throws {
        let compressed = try Compression.compress(CompressionTests.text, codec: codec)
        for limit in [1_000, 40_000, 100_000] {
            #expect(throws: CompressionError.tooLarge(codec: codec, limit: limit)) {
                try Compression.decompress(compressed[...], codec: codec, limit: limit)
            }
        }
        #expect(try Compression.decompress(compressed[...], codec: codec, limit: CompressionTests.text.count) == CompressionTests.text)
    }

    /// Inflated sizes that fill the last 64 KiB piece exactly end where they should.
    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func wholePiecesRoundTrip(codec: CompressionCodec) throws {
        for size in [65_536, 131_072] {
            let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let compressed = try Compression.compress(input, codec: codec)
            #expect(try Compression.decompress(compressed[...], codec: codec) == input, "\(codec) \(size)")
        }
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func corruptOrTruncatedInputThrows(codec: CompressionCodec) throws {
        let compressed = try Compression.compress(CompressionTests.text, codec: codec)
        #expect(throws: CompressionError.self) {
            try Compression.decompress(compressed[0..<compressed.count / 2], codec: codec)
        }
        #expect(throws: CompressionError.self) {
            try Compression.decompress([0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5][...], codec: codec)
        }
    }

    @Test func snappyRawAndXerialBothDecode() throws {
        let xerial = try Compression.compress(CompressionTests.text, codec: .snappy)
        #expect(Array(xerial.prefix(8)) == [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00])
        // Raw: the form librdkafka writes. Cut the first xerial block out and decode it alone.
        let blockLength = xerial[16..<20].reduce(0) { ($0 << 8) | Int($1) }
        let raw = xerial[20..<20 + blockLength]
        #expect(try Compression.decompress(raw, codec: .snappy) == Array(CompressionTests.text.prefix(32 * 1_024)))
    }

    @Test func concatenatedGzipMembers() throws {
        let first = try Compression.compress(Array("abc".utf8), codec: .gzip)
        let second = try Compression.compress(Array("def".utf8), codec: .gzip)
        #expect(try Compression.decompress((first + second)[...], codec: .gzip) == Array("abcdef".utf8))
    }

    /// Inflation hands over pieces that join to the whole, and stops when told to.
    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func inflatesInPieces(codec: CompressionCodec) throws {
        let compressed = try Compression.compress(CompressionTests.text, codec: codec)
        var joined: [UInt8] = []
        var pieces = 0
        try Compression.inflate(compressed[...], codec: codec) { piece in
            #expect(piece.count <= 64 * 1_024)
            joined.append(contentsOf: piece)
            pieces += 1
            return true
        }
        #expect(joined == CompressionTests.text && pieces > 1)
        var handed = 0
        try Compression.inflate(compressed[...], codec: codec) { _ in
            handed += 1
            return false
        }
        #expect(handed == 1)
    }

    /// A raw snappy block's length header is a claim: one no valid block of its size could
    /// reach is refused before anything that large is allocated.
    @Test func aSnappyLengthClaimBeyondTheFormatIsRefused() throws {
        // Varint 0x7FFFFFF0 (about 2 GiB), then a literal of one byte.
        let claim: [UInt8] = [0xF0, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x41]
        #expect(throws: CompressionError.corrupt(codec: .snappy, reason: "7 bytes cannot inflate to the 2147483632 claimed")) {
            try Compression.decompress(claim[...], codec: .snappy, limit: Int.max)
        }
    }
}
