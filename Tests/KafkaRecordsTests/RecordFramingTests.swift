// The record-framing walk gives the same verdict however its input is cut into pieces.

import Testing

@testable import KafkaRecords

@Suite struct RecordFramingTests {
    /// Length-prefixed records: a 1-byte prefix, a 2-byte prefix (length 200), and another.
    /// (A record body is 6 bytes at the least.)
    static let section: [UInt8] = {
        func record(_ length: Int) -> [UInt8] {
            var prefix: [UInt8] = []
            var zigzag = UInt32(length) << 1
            while zigzag >= 0x80 {
                prefix.append(UInt8(zigzag & 0x7F) | 0x80)
                zigzag >>= 7
            }
            prefix.append(UInt8(zigzag))
            return prefix + [UInt8](repeating: 7, count: length)
        }
        return record(6) + record(200) + record(7)
    }()

    static func verdict(_ bytes: [UInt8], claimed: Int32, pieceSize: Int) -> Bool {
        var framing = RecordFraming(claimed: claimed)
        var start = 0
        while start < bytes.count {
            let end = min(start + pieceSize, bytes.count)
            let more = bytes[start..<end].withUnsafeBytes { framing.feed($0) }
            if !more { break }
            start = end
        }
        return (try? framing.finish()) != nil
    }

    @Test(arguments: [1, 2, 3, 7, 1_000])
    func everyCutAgrees(pieceSize: Int) {
        #expect(Self.verdict(Self.section, claimed: 3, pieceSize: pieceSize))
        #expect(!Self.verdict(Self.section, claimed: 2, pieceSize: pieceSize))
        #expect(!Self.verdict(Self.section, claimed: 4, pieceSize: pieceSize))
        #expect(!Self.verdict(Array(Self.section.dropLast()), claimed: 3, pieceSize: pieceSize))
        // A prefix cut in half at the end (a fourth record claimed), a zero, negative or
        // too short length.
        #expect(!Self.verdict(Self.section + [0x80], claimed: 4, pieceSize: pieceSize))
        #expect(!Self.verdict([0x00, 1], claimed: 1, pieceSize: pieceSize))
        #expect(!Self.verdict([0x01, 1], claimed: 1, pieceSize: pieceSize))
        #expect(!Self.verdict([0x0A, 1, 2, 3, 4, 5], claimed: 1, pieceSize: pieceSize))
        // Five prefix bytes are an int32's most (Kafka reads them, minimal or not); six are not.
        #expect(Self.verdict([0x8C, 0x80, 0x80, 0x80, 0x00] + [UInt8](repeating: 1, count: 6), claimed: 1, pieceSize: pieceSize))
        #expect(!Self.verdict([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], claimed: 1, pieceSize: pieceSize))
    }

    @Test func nothingClaimedNothingPresent() {
        #expect(Self.verdict([], claimed: 0, pieceSize: 1))
        #expect(!Self.verdict([], claimed: 1, pieceSize: 1))
        #expect(!Self.verdict([0x0C, 1, 1, 1, 1, 1, 1], claimed: 0, pieceSize: 1))
    }
}
