// Checks that a batch's records section holds exactly the records its header claims, by
// their length prefixes alone, fed in pieces as decompression hands them over.

import KafkaWire

/// Kafka refuses a batch whose count and content disagree ("Incorrect declared batch size"):
/// its offsets would be reserved for records no reader can decode. The walk keeps no bytes,
/// so a compressed batch is checked in constant memory however far it inflates.
struct RecordFraming {
    let claimed: Int
    private(set) var records = 0
    /// Bytes of the current record's body not yet seen.
    private var bodyRemaining = 0
    /// The length prefix being read: a zigzag varint, possibly split across pieces.
    private var prefix: UInt32 = 0
    private var prefixShift: UInt32 = 0
    private var failure: String?

    static let minimumRecordBody: Int32 = 6

    /// With `listingKeyless`, the indexes of records without a key (a compacted topic refuses
    /// them), at most that many. Each record's key length lies in its first bytes
    /// (attributes, two deltas, the key length: `headCapacity` at the most), gathered across
    /// pieces into `head`, so the walk still keeps nothing of the records.
    private let keylessLimit: Int
    private(set) var keyless: [Int32] = []
    static let headCapacity = 1 + 10 + 5 + 5
    private var head: [UInt8] = []
    /// How many of the current record's first bytes to gather (0: none).
    private var headWanted = 0

    init(claimed: Int32, listingKeyless keylessLimit: Int = 0) {
        self.claimed = Int(max(claimed, 0))
        self.keylessLimit = keylessLimit
        if keylessLimit > 0 { head.reserveCapacity(Self.headCapacity) }
    }

    /// Walks the next piece; false once the records are known to be wrong (stop feeding).
    mutating func feed(_ piece: UnsafeRawBufferPointer) -> Bool {
        // The walk runs on locals, stored back once: kept in fields, every step would be a
        // store the compiler cannot drop (the piece's memory might alias them), and at some
        // 10,000 small records to the mebibyte that costs more than the CRC.
        var records = self.records
        var bodyRemaining = self.bodyRemaining
        var prefix = self.prefix
        var prefixShift = self.prefixShift
        defer {
            self.records = records
            self.bodyRemaining = bodyRemaining
            self.prefix = prefix
            self.prefixShift = prefixShift
        }
        var index = 0
        while index < piece.count {
            if bodyRemaining > 0 {
                if headWanted > head.count {
                    let taken = min(headWanted - head.count, piece.count - index)
                    head.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[index..<index + taken]))
                    index += taken
                    bodyRemaining -= taken
                    if head.count == headWanted && !inspectHead(ofRecord: records - 1) { return false }
                    continue
                }
                let skipped = min(bodyRemaining, piece.count - index)
                bodyRemaining -= skipped
                index += skipped
                continue
            }
            guard records < claimed else {
                failure = "bytes remain after the \(claimed) records claimed"
                return false
            }
            let byte = piece[index]
            index += 1
            prefix |= UInt32(byte & 0x7f) << prefixShift
            if byte & 0x80 != 0 {
                prefixShift += 7
                guard prefixShift <= 28 else {
                    failure = "record \(records) has a malformed length"
                    return false
                }
                continue
            }
            let length = Int32(bitPattern: (prefix >> 1) ^ (0 &- (prefix & 1)))
            prefix = 0
            prefixShift = 0
            // Attributes, timestamp delta, offset delta, key and value lengths and the header
            // count take a byte each at the least: Kafka finds a shorter body invalid.
            guard length >= Self.minimumRecordBody else {
                failure = "record \(records) claims \(length) bytes, fewer than any record holds"
                return false
            }
            records += 1
            bodyRemaining = Int(length)
            if keyless.count < keylessLimit {
                head.removeAll(keepingCapacity: true)
                headWanted = min(Int(length), Self.headCapacity)
                continue
            }
            // The body is skipped at once, as far as this piece goes.
            let skipped = min(bodyRemaining, piece.count - index)
            index += skipped
            bodyRemaining -= skipped
        }
        return true
    }

    /// Reads the key length from a record's first bytes; false (the walk fails) when they do
    /// not parse as a record.
    private mutating func inspectHead(ofRecord index: Int) -> Bool {
        headWanted = 0
        var reader = ByteReader(head)
        do {
            _ = try reader.readInt8()  // attributes
            _ = try reader.readVarlong()  // timestamp delta
            _ = try reader.readVarint()  // offset delta
            if try reader.readVarint() < 0 { keyless.append(Int32(index)) }
            return true
        } catch {
            failure = "record \(index) is malformed: \(error)"
            return false
        }
    }

    /// After the last piece: the claimed records, each whole, and nothing else.
    func finish() throws(RecordBatchError) {
        if let failure { throw .invalidRecord(failure) }
        // (A length prefix cut short leaves fewer whole records than claimed: any byte after
        // the last claimed record has already failed the walk.)
        let whole = records - (bodyRemaining > 0 ? 1 : 0)
        guard whole == claimed else {
            throw .invalidRecord("incorrect declared batch size: \(claimed) records claimed, \(whole) present")
        }
    }
}
