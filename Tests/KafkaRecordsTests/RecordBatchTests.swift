// RecordBatch v2: build, parse, validate, and the broker's in-place patches, including
// what must stay CRC-valid (offsets, leader epoch) and what must not (any covered byte).

import KafkaRecords
import KafkaWire
import Testing

@Suite struct RecordBatchTests {
    static let records: [Record] = [
        Record(
            offset: 0, timestamp: 1_700_000_000_000, key: Array("k1".utf8), value: Array("v1".utf8),
            headers: [RecordHeader(key: "h", value: [1]), RecordHeader(key: "n", value: nil)]),
        Record(offset: 1, timestamp: 1_700_000_000_005, key: nil, value: Array("v2".utf8)),
        Record(offset: 2, timestamp: 1_699_999_999_990, key: [], value: nil),
    ]

    @Test(arguments: CompressionCodec.allCases)
    func buildAndParse(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder()
        builder.compression = codec
        builder.producerId = 7
        builder.producerEpoch = 1
        builder.baseSequence = 10
        let bytes = try builder.build(Self.records)
        let batch = try RecordBatch(bytes: bytes)
        try batch.validate()
        #expect(batch.magic == 2)
        #expect(batch.compression == codec)
        #expect(batch.recordCount == 3 && batch.lastOffsetDelta == 2)
        #expect(batch.baseTimestamp == Self.records[0].timestamp)
        #expect(batch.maxTimestamp == 1_700_000_000_005)
        #expect(batch.producerId == 7 && batch.producerEpoch == 1 && batch.baseSequence == 10)
        #expect(batch.lastSequence == 12)
        #expect(batch.totalSize == bytes.count)
        #expect(try batch.records() == Self.records)
    }

    @Test(arguments: CompressionCodec.allCases)
    func recordsReadInPiecesAreTheRecords(codec: CompressionCodec) throws {
        // Enough records that they span many 64 KiB pieces, with values crossing their edges.
        let many = (0..<3_000).map { index in
            Record(
                offset: Int64(index), timestamp: 1_700_000_000_000 + Int64(index), key: Array("key-\(index % 97)".utf8),
                value: [UInt8](repeating: UInt8(index % 251), count: index % 300), headers: [])
        }
        var builder = RecordBatchBuilder()
        builder.compression = codec
        let batch = try RecordBatch(bytes: try builder.build(many))
        var seen: [Record] = []
        try batch.forEachRecordInPieces {
            seen.append($0)
            return true
        }
        #expect(seen == many)
        // Stopping early stops.
        var count = 0
        try batch.forEachRecordInPieces { _ in
            count += 1
            return count < 10
        }
        #expect(count == 10)
    }

    @Test func aBatchClaimingMoreOrFewerRecordsThanItHoldsIsRefusedInPieces() throws {
        var builder = RecordBatchBuilder()
        builder.compression = .gzip
        var bytes = try builder.build(Self.records)
        // recordCount (at byte 57) says one more; the walk finds the bytes short of it.
        bytes[60] &+= 1
        let claimsMore = try RecordBatch(bytes: bytes)
        #expect(throws: RecordBatchError.self) { try claimsMore.forEachRecordInPieces { _ in true } }
        bytes[60] &-= 2
        let claimsFewer = try RecordBatch(bytes: bytes)
        #expect(throws: RecordBatchError.self) { try claimsFewer.forEachRecordInPieces { _ in true } }
    }

    @Test func offsetAndEpochPatchesKeepTheCRC() throws {
        var batch = try RecordBatch(bytes: try RecordBatchBuilder().build(Self.records))
        batch.setBaseOffset(1_000)
        batch.setPartitionLeaderEpoch(5)
        try batch.validate()
        #expect(batch.baseOffset == 1_000 && batch.partitionLeaderEpoch == 5)
        #expect(try batch.records().map(\.offset) == [1_000, 1_001, 1_002])
    }

    @Test func logAppendTimeRewritesTimestampAndCRC() throws {
        var batch = try RecordBatch(bytes: try RecordBatchBuilder().build(Self.records))
        let before = batch.storedCRC
        batch.setLogAppendTime(1_800_000_000_000)
        try batch.validate()
        #expect(batch.storedCRC != before)
        #expect(batch.timestampType == .logAppendTime)
        #expect(try batch.records().allSatisfy { $0.timestamp == 1_800_000_000_000 })
    }

    @Test func everyCoveredByteIsProtected() throws {
        let bytes = try RecordBatchBuilder().build(Self.records)
        for position in RecordBatchLayout.attributes..<bytes.count {
            var corrupted = bytes
            corrupted[position] ^= 0x01
            #expect(throws: RecordBatchError.self, "byte \(position)") { try RecordBatch(bytes: corrupted).validate() }
        }
    }

    @Test func badHeadersAreTypedErrors() throws {
        let bytes = try RecordBatchBuilder().build(Self.records)
        #expect(throws: RecordBatchError.truncated(needed: bytes.count, available: bytes.count - 1)) {
            try RecordBatch(bytes: Array(bytes.dropLast()))
        }
        var magicOne = bytes
        magicOne[RecordBatchLayout.magic] = 1
        #expect(throws: RecordBatchError.unsupportedMagic(1)) { try RecordBatch(bytes: magicOne).validate() }
        var negativeLength = bytes
        negativeLength[RecordBatchLayout.batchLength] = 0xFF
        #expect(throws: RecordBatchError.self) { try RecordBatch(bytes: negativeLength) }
        #expect(throws: RecordBatchError.self) { try RecordBatch(bytes: [1, 2, 3]) }
    }

    @Test func recordCountMustMatchOffsets() throws {
        var builder = RecordBatchBuilder()
        builder.lastOffsetDeltaOverride = 9
        let sparse = try RecordBatch(bytes: try builder.build(Self.records))
        #expect(throws: RecordBatchError.recordCountMismatch(recordCount: 3, lastOffsetDelta: 9)) {
            try sparse.validate()
        }
        // A compacted batch keeps its offset span with fewer records: valid when allowed.
        try sparse.validate(denseOffsets: false)
    }

    /// A header claiming more (or fewer) records than the batch holds, with a CRC that
    /// matches: refused whatever the codec, as Kafka refuses it. The records are varied in
    /// size and many, so compressed ones inflate in several pieces split mid-record.
    @Test(arguments: CompressionCodec.allCases)
    func aBatchHoldsExactlyItsRecordCount(codec: CompressionCodec) throws {
        let records = (0..<3_000).map { index in
            Record(
                offset: Int64(index), timestamp: 1_700_000_000_000, key: Array("key-\(index)".utf8),
                value: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index % 300))
        }
        var builder = RecordBatchBuilder()
        builder.compression = codec
        let bytes = try builder.build(records)
        func claiming(_ count: Int32) -> RecordBatch {
            var patched = bytes
            patched.replaceSubrange(
                RecordBatchLayout.lastOffsetDelta..<RecordBatchLayout.lastOffsetDelta + 4,
                with: withUnsafeBytes(of: (count - 1).bigEndian, Array.init))
            patched.replaceSubrange(
                RecordBatchLayout.recordCount..<RecordBatchLayout.recordCount + 4,
                with: withUnsafeBytes(of: count.bigEndian, Array.init))
            let crc = CRC32C.checksum(patched, range: RecordBatchLayout.attributes..<patched.count)
            patched.replaceSubrange(RecordBatchLayout.crc..<RecordBatchLayout.crc + 4, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            return try! RecordBatch(bytes: patched)
        }
        try claiming(Int32(records.count)).validateRecordFraming()
        for count in [Int32(records.count + 1), Int32.max, Int32(records.count - 1), 1] {
            try claiming(count).validate()  // the header alone agrees with itself
            #expect(throws: RecordBatchError.self, "\(codec) claiming \(count)") { try claiming(count).validateRecordFraming() }
        }
    }

    /// The framing walk lists the records without a key (what a compacted topic refuses), up
    /// to the limit asked, whatever the codec and however the pieces cut the records' heads.
    @Test(arguments: CompressionCodec.allCases)
    func theWalkListsKeylessRecords(codec: CompressionCodec) throws {
        let records = (0..<5_000).map { index in
            Record(
                offset: Int64(index), timestamp: 1_700_000_000_000 + Int64(index) * 1_000_003,
                key: index % 7 == 3 ? nil : Array("key-\(index)".utf8),
                value: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index % 200))
        }
        var builder = RecordBatchBuilder()
        builder.compression = codec
        let batch = try RecordBatch(bytes: try builder.build(records))
        let expected = records.indices.filter { records[$0].key == nil }.map(Int32.init)
        #expect(try batch.validateRecordFraming(listingKeyless: 10_000) == expected)
        #expect(try batch.validateRecordFraming(listingKeyless: 10) == Array(expected.prefix(10)))
        #expect(try batch.validateRecordFraming().isEmpty)
    }

    /// A compressed payload that is not a stream of its codec is refused as such.
    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func aCompressedBatchThatDoesNotInflateIsRefused(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder()
        builder.compression = codec
        var bytes = try builder.build(Self.records)
        // Keep the header, replace the payload with bytes of the same length, fix the CRC.
        for position in RecordBatchLayout.recordsStart..<bytes.count { bytes[position] = 0xA5 }
        let crc = CRC32C.checksum(bytes, range: RecordBatchLayout.attributes..<bytes.count)
        bytes.replaceSubrange(RecordBatchLayout.crc..<RecordBatchLayout.crc + 4, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
        let batch = try RecordBatch(bytes: bytes)
        try batch.validate()
        do {
            try batch.validateRecordFraming()
            Issue.record("\(codec): a payload of 0xA5 bytes passed")
        } catch {
            guard case .compression = error else {
                Issue.record("\(codec): \(error)")
                return
            }
        }
    }

    @Test func consecutiveBatchesSplit() throws {
        var first = RecordBatchBuilder()
        first.baseOffset = 0
        var second = RecordBatchBuilder()
        second.baseOffset = 3
        let shifted = Self.records.map { record -> Record in
            var copy = record
            copy.offset += 3
            return copy
        }
        let bytes = try first.build(Self.records) + second.build(shifted)
        let batches = try RecordBatch.batches(in: bytes)
        #expect(batches.map(\.baseOffset) == [0, 3])
        #expect(try RecordBatch.batches(in: Array(bytes.dropLast(5)), allowPartialTail: true).count == 1)
        #expect(throws: RecordBatchError.self) { try RecordBatch.batches(in: Array(bytes.dropLast(5))) }
    }

    @Test func transactionMarkers() throws {
        let marker = TransactionMarker(type: .commit, coordinatorEpoch: 3)
        let batch = try RecordBatch(bytes: marker.batch(producerId: 9, producerEpoch: 2, baseOffset: 40, timestamp: 5))
        try batch.validate()
        #expect(batch.isControl && batch.isTransactional)
        #expect(batch.producerId == 9 && batch.producerEpoch == 2 && batch.baseOffset == 40)
        let records = try batch.records()
        #expect(records.count == 1)
        #expect(try TransactionMarker(record: records[0]) == marker)
    }
}
