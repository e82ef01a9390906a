// The four compression codecs of Kafka record batches, through the system libraries.
// Decompression is bounded: a batch that inflates past the caller's limit is an error,
// never an allocation of whatever the bytes claim.

import CLZ4
import CSnappy
import CZlib
import CZstd

/// The codec in bits 0-2 of a batch's attributes.
public enum CompressionCodec: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    public var description: String {
        switch self {
        case .none: return "none"
        case .gzip: return "gzip"
        case .snappy: return "snappy"
        case .lz4: return "lz4"
        case .zstd: return "zstd"
        }
    }
}

public enum CompressionError: Error, Equatable, Sendable, CustomStringConvertible {
    case corrupt(codec: CompressionCodec, reason: String)
    /// The stream ends before its frame does (Kafka: a premature end of the record stream).
    case truncated(codec: CompressionCodec)
    case tooLarge(codec: CompressionCodec, limit: Int)
    case failed(codec: CompressionCodec, reason: String)

    public var description: String {
        switch self {
        case .corrupt(let codec, let reason): return "corrupt \(codec) data: \(reason)"
        case .truncated(let codec): return "\(codec) data ends inside its stream"
        case .tooLarge(let codec, let limit): return "\(codec) data inflates past \(limit) bytes"
        case .failed(let codec, let reason): return "\(codec) compression failed: \(reason)"
        }
    }
}

public enum Compression {
    /// Default ceiling for inflated batches: Kafka's largest message.max.bytes is far below.
    public static let defaultLimit = 256 << 20

    public static func compress(_ input: [UInt8], codec: CompressionCodec) throws(CompressionError) -> [UInt8] {
        switch codec {
        case .none: return input
        case .gzip: return try gzipCompress(input)
        case .snappy: return try snappyCompressXerial(input)
        case .lz4: return try lz4Compress(input)
        case .zstd: return try zstdCompress(input)
        }
    }

    public static func decompress(
        _ input: ArraySlice<UInt8>, codec: CompressionCodec,
        limit: Int = defaultLimit
    ) throws(CompressionError) -> [UInt8] {
        var output: [UInt8] = []
        try inflate(input, codec: codec, limit: limit) { piece in
            // As typed bytes, so the append is one copy rather than a byte-by-byte walk.
            piece.withMemoryRebound(to: UInt8.self) { output.append(contentsOf: $0) }
            return true
        }
        return output
    }

    /// Inflates `input` a piece at a time (64 KiB, or one snappy block), handing each piece
    /// to `consume` and keeping none: a reader that only walks the bytes needs no buffer the
    /// size of the whole. A piece is valid only during its call; `consume` returns false to
    /// stop early.
    public static func inflate(
        _ input: ArraySlice<UInt8>, codec: CompressionCodec, limit: Int = defaultLimit,
        into consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) {
        switch codec {
        case .none:
            guard input.count <= limit else { throw .tooLarge(codec: codec, limit: limit) }
            _ = input.withUnsafeBytes(consume)
        case .gzip: try gzipInflate(input, limit: limit, into: consume)
        case .snappy: try snappyInflate(input, limit: limit, into: consume)
        case .lz4: try lz4Inflate(input, limit: limit, into: consume)
        case .zstd: try zstdInflate(input, limit: limit, into: consume)
        }
    }

    static let pieceSize = 64 * 1024

    /// The buffer each piece is inflated into: on the stack when the thread has room, so a
    /// produce request's check neither allocates nor zeroes 64 KiB.
    private static func withPiece(_ body: (UnsafeMutableRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) {
        try withUnsafeTemporaryAllocation(byteCount: pieceSize, alignment: 16, body)
    }

    /// Counts `produced` against `limit` and hands the first `produced` bytes of `piece` on.
    private static func hand(
        _ piece: UnsafeRawBufferPointer, _ produced: Int, total: inout Int, limit: Int, codec: CompressionCodec,
        to consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) -> Bool {
        total += produced
        guard total <= limit else { throw .tooLarge(codec: codec, limit: limit) }
        guard produced > 0 else { return true }
        return consume(UnsafeRawBufferPointer(rebasing: piece[0..<produced]))
    }

    // MARK: gzip (zlib with the gzip wrapper)

    static func gzipCompress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 asks zlib for the gzip wrapper.
        guard
            deflateInit2_(
                &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else {
            throw .failed(codec: .gzip, reason: "deflateInit2")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw .failed(codec: .gzip, reason: "deflate \(status)") }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }

    static func gzipInflate(
        _ input: ArraySlice<UInt8>, limit: Int,
        into consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) {
        if input.isEmpty { throw .corrupt(codec: .gzip, reason: "empty input") }
        var stream = z_stream()
        // windowBits 15 + 32: accept gzip or zlib headers.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .failed(codec: .gzip, reason: "inflateInit2")
        }
        defer { inflateEnd(&stream) }
        var consumed = 0
        var total = 0
        try withPiece { piece throws(CompressionError) in
            while true {
                let (status, produced, used): (Int32, Int, Int) = input.withUnsafeBytes { source in
                    // zlib's next_in is not const, but inflate only reads it.
                    stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress!.assumingMemoryBound(to: UInt8.self)) + consumed
                    stream.avail_in = uInt(source.count - consumed)
                    stream.next_out = piece.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    stream.avail_out = uInt(piece.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, piece.count - Int(stream.avail_out), source.count - consumed - Int(stream.avail_in))
                }
                consumed += used
                guard try hand(UnsafeRawBufferPointer(piece), produced, total: &total, limit: limit, codec: .gzip, to: consume) else {
                    return
                }
                switch status {
                case Z_STREAM_END:
                    // Java's GZIPInputStream reads concatenated members; so do we.
                    if consumed >= input.count { return }
                    guard inflateReset(&stream) == Z_OK else { throw .corrupt(codec: .gzip, reason: "reset") }
                case Z_OK:
                    if used == 0 && produced == 0 { throw .truncated(codec: .gzip) }
                case Z_BUF_ERROR:
                    if consumed >= input.count { throw .truncated(codec: .gzip) }
                default:
                    throw .corrupt(codec: .gzip, reason: "inflate status \(status)")
                }
            }
        }
    }

    // MARK: snappy (raw, as librdkafka writes it, or xerial-framed, as Java clients do)

    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    static let xerialBlockSize = 32 * 1024

    static func snappyCompressRaw(_ input: ArraySlice<UInt8>) throws(CompressionError) -> [UInt8] {
        var length = snappy_max_compressed_length(input.count)
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                source.withMemoryRebound(to: CChar.self) { sourceChars in
                    destination.withMemoryRebound(to: CChar.self) { destinationChars in
                        snappy_compress(sourceChars.baseAddress, source.count, destinationChars.baseAddress, &length)
                    }
                }
            }
        }
        guard status == SNAPPY_OK else { throw .failed(codec: .snappy, reason: "status \(status.rawValue)") }
        output.removeSubrange(length...)
        return output
    }

    static func snappyCompressXerial(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var output = xerialMagic
        output += [0, 0, 0, 1, 0, 0, 0, 1]  // version 1, minimum compatible version 1
        var start = 0
        repeat {
            let end = min(start + xerialBlockSize, input.count)
            let block = try snappyCompressRaw(input[start..<end])
            let length = UInt32(block.count)
            output += [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
            output += block
            start = end
        } while start < input.count
        return output
    }

    static func snappyInflate(
        _ input: ArraySlice<UInt8>, limit: Int,
        into consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) {
        guard input.count >= 16, input.prefix(8).elementsEqual(xerialMagic) else {
            let block = try snappyDecompressRaw(input, limit: limit)
            _ = block.withUnsafeBytes(consume)
            return
        }
        var position = input.startIndex + 16
        var total = 0
        while position < input.endIndex {
            guard input.endIndex - position >= 4 else { throw .truncated(codec: .snappy) }
            let length = input[position..<position + 4].reduce(0) { ($0 << 8) | Int($1) }
            position += 4
            guard length <= input.endIndex - position else { throw .truncated(codec: .snappy) }
            // Each block is bounded by what the blocks before left of the limit.
            let block: [UInt8]
            do {
                block = try snappyDecompressRaw(input[position..<position + length], limit: limit - total)
            } catch {
                if case .tooLarge = error { throw .tooLarge(codec: .snappy, limit: limit) }
                throw error
            }
            total += block.count
            guard block.withUnsafeBytes(consume) else { return }
            position += length
        }
    }

    /// Snappy's densest element, a copy of 64 bytes, takes 3: no valid block inflates
    /// further, so a length header claiming more is refused before anything is allocated.
    static let snappyMaximumRatio = 22

    static func snappyDecompressRaw(_ input: ArraySlice<UInt8>, limit: Int) throws(CompressionError) -> [UInt8] {
        var length = 0
        let lengthStatus = input.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { snappy_uncompressed_length($0.baseAddress, $0.count, &length) }
        }
        guard lengthStatus == SNAPPY_OK else { throw .corrupt(codec: .snappy, reason: "bad length header") }
        guard length <= limit else { throw .tooLarge(codec: .snappy, limit: limit) }
        guard length <= input.count * snappyMaximumRatio else {
            throw .corrupt(codec: .snappy, reason: "\(input.count) bytes cannot inflate to the \(length) claimed")
        }
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                source.withMemoryRebound(to: CChar.self) { sourceChars in
                    destination.withMemoryRebound(to: CChar.self) { destinationChars in
                        snappy_uncompress(sourceChars.baseAddress, source.count, destinationChars.baseAddress, &length)
                    }
                }
            }
        }
        guard status == SNAPPY_OK else { throw .corrupt(codec: .snappy, reason: "status \(status.rawValue)") }
        return output
    }

    // MARK: lz4 (the LZ4 frame format)

    static func lz4Compress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        let bound = LZ4F_compressFrameBound(input.count, &preferences)
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                LZ4F_compressFrame(destination.baseAddress, destination.count, source.baseAddress, source.count, &preferences)
            }
        }
        guard LZ4F_isError(written) == 0 else { throw .failed(codec: .lz4, reason: lz4Error(written)) }
        output.removeSubrange(written...)
        return output
    }

    static func lz4Inflate(
        _ input: ArraySlice<UInt8>, limit: Int,
        into consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw .failed(codec: .lz4, reason: "context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var consumed = 0
        var total = 0
        try withPiece { piece throws(CompressionError) in
            while true {
                var sourceSize = input.count - consumed
                var destinationSize = piece.count
                let hint = input.withUnsafeBytes { source in
                    LZ4F_decompress(context, piece.baseAddress, &destinationSize, source.baseAddress! + consumed, &sourceSize, nil)
                }
                guard LZ4F_isError(hint) == 0 else { throw .corrupt(codec: .lz4, reason: lz4Error(hint)) }
                consumed += sourceSize
                guard try hand(UnsafeRawBufferPointer(piece), destinationSize, total: &total, limit: limit, codec: .lz4, to: consume) else {
                    return
                }
                if hint == 0 { return }  // frame complete
                if consumed >= input.count && destinationSize == 0 {
                    throw .truncated(codec: .lz4)
                }
            }
        }
    }

    static func lz4Error(_ code: Int) -> String {
        String(cString: LZ4F_getErrorName(code))
    }

    // MARK: zstd

    static func zstdCompress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, 3)
            }
        }
        guard ZSTD_isError(written) == 0 else {
            throw .failed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(written)))
        }
        output.removeSubrange(written...)
        return output
    }

    static func zstdInflate(
        _ input: ArraySlice<UInt8>, limit: Int,
        into consume: (UnsafeRawBufferPointer) -> Bool
    ) throws(CompressionError) {
        guard let stream = ZSTD_createDStream() else { throw .failed(codec: .zstd, reason: "context") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var position = 0
        var total = 0
        try withPiece { piece throws(CompressionError) in
            while true {
                let (hint, produced, newPosition): (Int, Int, Int) = input.withUnsafeBytes { source in
                    var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: position)
                    var outBuffer = ZSTD_outBuffer(dst: piece.baseAddress, size: piece.count, pos: 0)
                    let hint = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                    return (hint, outBuffer.pos, inBuffer.pos)
                }
                guard ZSTD_isError(hint) == 0 else {
                    throw .corrupt(codec: .zstd, reason: String(cString: ZSTD_getErrorName(hint)))
                }
                guard try hand(UnsafeRawBufferPointer(piece), produced, total: &total, limit: limit, codec: .zstd, to: consume) else {
                    return
                }
                let progressed = newPosition != position || produced > 0
                position = newPosition
                // 0: a frame is decoded and flushed. With no input left that is the end, even
                // when its last piece filled the buffer exactly.
                if hint == 0 && position >= input.count { return }
                if position >= input.count && produced < piece.count { throw .truncated(codec: .zstd) }
                if !progressed { throw .corrupt(codec: .zstd, reason: "no progress") }
            }
        }
    }
}
