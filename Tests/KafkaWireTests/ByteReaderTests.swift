// The reader's bounds: every truncated or lying input is a typed error, lengths are checked
// before any allocation, and the classic and compact encodings both round-trip.

import KafkaWire
import Testing

@Suite struct ByteReaderTests {
    @Test func fixedWidthIntegersAreBigEndian() throws {
        var writer = ByteWriter()
        writer.writeInt16(-2)
        writer.writeInt32(0x0102_0304)
        writer.writeInt64(-1)
        writer.writeUInt16(0xBEEF)
        writer.writeFloat64(1.5)
        #expect(Array(writer.bytes.prefix(6)) == [0xFF, 0xFE, 0x01, 0x02, 0x03, 0x04])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readInt16() == -2)
        #expect(try reader.readInt32() == 0x0102_0304)
        #expect(try reader.readInt64() == -1)
        #expect(try reader.readUInt16() == 0xBEEF)
        #expect(try reader.readFloat64() == 1.5)
        #expect(reader.isAtEnd)
        #expect(throws: DecodeError.truncated(offset: 24, needed: 1, remaining: 0)) { try reader.readInt8() }
    }

    @Test func stringsClassicAndCompact() throws {
        for compact in [false, true] {
            var writer = ByteWriter()
            try writer.writeString("héllo", compact: compact)
            try writer.writeNullableString(nil, compact: compact)
            try writer.writeString("", compact: compact)
            var reader = ByteReader(writer.bytes)
            #expect(try reader.readString(compact: compact) == "héllo")
            #expect(try reader.readNullableString(compact: compact) == nil)
            #expect(try reader.readString(compact: compact) == "")
            #expect(reader.isAtEnd)
        }
    }

    @Test func stringsHoldAtMost32767Bytes() throws {
        // Compact: unsigned varint length + 1, then the bytes.
        func compact(_ count: Int) -> ByteReader {
            var writer = ByteWriter()
            writer.writeUnsignedVarint(UInt32(count + 1))
            return ByteReader(writer.bytes + [UInt8](repeating: 0x61, count: count))
        }
        var longest = compact(32_767)
        #expect(try longest.readString(compact: true).utf8.count == 32_767)
        var tooLong = compact(32_768)
        #expect(throws: DecodeError.invalidLength(offset: 0, length: 32_768)) { try tooLong.readString(compact: true) }
    }

    @Test func nullWhereNotAllowedIsAnError() {
        var classic = ByteReader([0xFF, 0xFF])
        #expect(throws: DecodeError.unexpectedNull(offset: 0, field: "ClientId")) {
            try classic.readString(compact: false, field: "ClientId")
        }
        var compact = ByteReader([0x00])
        #expect(throws: DecodeError.self) { try compact.readBytes(compact: true) }
    }

    @Test func lyingLengthsFailBeforeAllocating() {
        // int32 bytes length of 2 GiB with four bytes behind it.
        var bytes = ByteReader([0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4])
        #expect(throws: DecodeError.invalidLength(offset: 0, length: Int(Int32.max))) {
            try bytes.readBytes(compact: false)
        }
        var negative = ByteReader([0xFF, 0xFF, 0xFF, 0xFE])
        #expect(throws: DecodeError.invalidLength(offset: 0, length: -2)) { try negative.readArrayCount(compact: false) }
        var string = ByteReader([0x00, 0x05, 0x61])
        #expect(throws: DecodeError.invalidLength(offset: 0, length: 5)) { try string.readString(compact: false) }
        var array = ByteReader([0x00, 0x00, 0x10, 0x00])
        #expect(throws: DecodeError.self) { try array.readArrayCount(compact: false) }
    }

    @Test func taggedFieldSpansAreCheckedAndOrdered() throws {
        var writer = ByteWriter()
        writer.writeTaggedFields(
            [RawTaggedField(tag: 5, data: [9])],
            unknown: [RawTaggedField(tag: 1, data: [7, 8])])
        #expect(writer.bytes == [2, 1, 2, 7, 8, 5, 1, 9])
        var reader = ByteReader(writer.bytes)
        let spans = try reader.readTaggedFieldSpans()
        #expect(spans.map(\.tag) == [1, 5])
        #expect(reader.rawTaggedField(spans[0]).data == [7, 8])

        var outOfOrder = ByteReader([2, 5, 0, 1, 0])
        #expect(throws: DecodeError.self) { try outOfOrder.readTaggedFieldSpans() }
        var oversized = ByteReader([1, 0, 9, 1])
        #expect(throws: DecodeError.invalidLength(offset: 2, length: 9)) { try oversized.readTaggedFieldSpans() }
    }

    @Test func subrangeReaderStopsAtItsEnd() throws {
        var reader = ByteReader([1, 2, 3, 4], range: 1..<3)
        #expect(try reader.readInt16() == 0x0203)
        #expect(throws: DecodeError.self) { try reader.readInt8() }
    }

    @Test func uuidForms() throws {
        let id = Uuid("f47ac10b-58cc-4372-a567-0e02b2c3d479")!
        #expect(id.description == "f47ac10b-58cc-4372-a567-0e02b2c3d479")
        #expect(Uuid(id.description) == id)
        // Kafka prints topic ids as URL-safe base64 without padding.
        #expect(Uuid(mostSignificantBits: 0, leastSignificantBits: 1).base64 == "AAAAAAAAAAAAAAAAAAAAAQ")
        var writer = ByteWriter()
        writer.writeUuid(id)
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readUuid() == id)
        let random = Uuid.random()
        #expect(!random.isZero && random != Uuid.random())
        #expect(random.mostSignificantBits >> 63 == 0)
    }
}
