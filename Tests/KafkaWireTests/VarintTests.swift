// Known answers for the varint and zig-zag encodings, at the edges where off-by-one and
// sign bugs live, and the errors for varints that never end.

import KafkaWire
import Testing

@Suite struct VarintTests {
    static let zigzag32: [(Int32, [UInt8])] = [
        (0, [0x00]), (-1, [0x01]), (1, [0x02]), (-2, [0x03]), (63, [0x7E]), (-64, [0x7F]),
        (64, [0x80, 0x01]), (300, [0xD8, 0x04]),
        (Int32.max, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]), (Int32.min, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: zigzag32)
    func zigzagVarint(value: Int32, bytes: [UInt8]) throws {
        var writer = ByteWriter()
        writer.writeVarint(value)
        #expect(writer.bytes == bytes)
        var reader = ByteReader(bytes)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
    }

    @Test func zigzagVarlongEdges() throws {
        for value in [Int64.min, Int64.min + 1, -1, 0, 1, Int64(Int32.max) + 1, Int64.max] {
            var writer = ByteWriter()
            writer.writeVarlong(value)
            var reader = ByteReader(writer.bytes)
            #expect(try reader.readVarlong() == value)
        }
        var writer = ByteWriter()
        writer.writeVarlong(Int64.min)
        #expect(writer.bytes == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func unsignedVarintKnownAnswers() throws {
        let cases: [(UInt32, [UInt8])] = [
            (0, [0]), (127, [0x7F]), (128, [0x80, 0x01]),
            (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
            (UInt32.max, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        ]
        for (value, bytes) in cases {
            var writer = ByteWriter()
            writer.writeUnsignedVarint(value)
            #expect(writer.bytes == bytes)
            var reader = ByteReader(bytes)
            #expect(try reader.readUnsignedVarint() == value)
        }
    }

    @Test func overlongVarintsAreRejected() {
        var fiveBytesTooBig = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
        #expect(throws: DecodeError.varintTooLong(offset: 0)) { try fiveBytesTooBig.readUnsignedVarint() }
        var neverEnds = ByteReader([UInt8](repeating: 0x80, count: 20))
        #expect(throws: DecodeError.self) { try neverEnds.readUnsignedVarint() }
        var longNeverEnds = ByteReader([UInt8](repeating: 0xFF, count: 20))
        #expect(throws: DecodeError.varintTooLong(offset: 0)) { try longNeverEnds.readUnsignedVarlong() }
    }

    @Test func truncatedVarintIsTruncation() {
        var reader = ByteReader([0x80, 0x80])
        #expect(throws: DecodeError.truncated(offset: 2, needed: 1, remaining: 0)) { try reader.readVarint() }
    }
}
