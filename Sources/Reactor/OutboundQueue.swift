// A connection's bytes waiting to be written, in order: byte parts go out together with
// writev, file regions with sendfile; a partial write resumes where it stopped.

import Glibc
import SystemCalls

struct OutboundQueue {
    private enum Part {
        case bytes([UInt8], written: Int)
        case file(FileRegion, sent: Int)

        var remaining: Int {
            switch self {
            case .bytes(let bytes, let written): return bytes.count - written
            case .file(let region, let sent): return region.length - sent
            }
        }
    }

    private var parts: [Part] = []
    private var head = 0
    /// Bytes still to write.
    private(set) var queuedBytes = 0
    /// Bytes ever appended: less `queuedBytes`, how far the writes have come.
    private(set) var appendedBytes = 0
    var writtenBytes: Int { appendedBytes - queuedBytes }

    /// Byte parts gathered into one writev.
    static let maximumVectors = 64

    var isEmpty: Bool { head == parts.count }

    mutating func append(_ part: ResponsePart) {
        switch part {
        case .bytes(let bytes):
            guard !bytes.isEmpty else { return }
            parts.append(.bytes(bytes, written: 0))
            queuedBytes += bytes.count
            appendedBytes += bytes.count
        case .file(let region):
            guard region.length > 0 else { return }
            parts.append(.file(region, sent: 0))
            queuedBytes += region.length
            appendedBytes += region.length
        }
    }

    enum FlushResult: Equatable {
        case drained
        case wouldBlock
    }

    /// Writes until the queue is empty or the socket would block.
    mutating func flush(to socket: Int32) throws(SystemCallError) -> FlushResult {
        while head < parts.count {
            let progress: IOResult<Int>
            switch parts[head] {
            case .file(let region, let sent):
                progress = try System.sendfile(
                    to: socket, from: region.descriptor,
                    offset: region.offset + Int64(sent), count: region.length - sent)
            case .bytes:
                progress = try writeGathered(to: socket)
            }
            guard case .completed(let count) = progress else { return .wouldBlock }
            if count == 0 {
                // sendfile at the file's end: the region promised bytes the file lacks.
                throw SystemCallError(call: "sendfile (region past the end of the file)", errno: EIO)
            }
            advance(by: count)
        }
        parts.removeAll(keepingCapacity: parts.capacity <= 64)
        head = 0
        return .drained
    }

    /// Writes until the queue is empty or the transport would block, through TLS: the byte
    /// parts at the head gathered into records of up to 16 KiB (a 4-byte size prefix is not a
    /// record of its own), file regions with sendfile under kernel TLS, else read into the
    /// transport's buffer first.
    mutating func flush(through transport: TLSTransport) throws(SystemCallError) -> FlushResult {
        while head < parts.count {
            let progress: IOResult<Int>
            switch parts[head] {
            case .file(let region, let sent) where transport.sendsFileRegions:
                progress = try transport.sendFile(region, from: sent)
            case .file(let region, let sent):
                progress = try transport.withFileBytes(region, from: sent) { chunk throws(SystemCallError) in try transport.write(chunk) }
            case .bytes:
                progress = try transport.writeGathered { staging in
                    var index = head
                    while index < parts.count, staging.count < 16 * 1024, case .bytes(let bytes, let written) = parts[index] {
                        staging += bytes[written..<min(bytes.count, written + 16 * 1024 - staging.count)]
                        index += 1
                    }
                }
            }
            guard case .completed(let count) = progress, count > 0 else { return .wouldBlock }
            advance(by: count)
        }
        parts.removeAll(keepingCapacity: parts.capacity <= 64)
        head = 0
        return .drained
    }

    /// writev over the consecutive byte parts at the head.
    private func writeGathered(to socket: Int32) throws(SystemCallError) -> IOResult<Int> {
        var end = head
        while end < parts.count, end - head < Self.maximumVectors, case .bytes = parts[end] { end += 1 }
        var vectors: [iovec] = []
        vectors.reserveCapacity(end - head)
        return try gather(from: head, to: end, into: &vectors, socket: socket).get()
    }

    /// Nests `withUnsafeBytes` once per part, so every iovec's pointer is valid for the
    /// single writev at the bottom; no pointer escapes its closure.
    private func gather(from index: Int, to end: Int, into vectors: inout [iovec], socket: Int32) -> Result<IOResult<Int>, SystemCallError>
    {
        if index == end {
            return vectors.withUnsafeBufferPointer { buffer in Result { () throws(SystemCallError) in try System.writev(socket, buffer) } }
        }
        guard case .bytes(let bytes, let written) = parts[index] else { fatalError("gather over a file part") }
        return bytes.withUnsafeBytes { raw in
            vectors.append(
                iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress! + written),
                    iov_len: raw.count - written))
            return gather(from: index + 1, to: end, into: &vectors, socket: socket)
        }
    }

    private mutating func advance(by count: Int) {
        queuedBytes -= count
        var left = count
        while left > 0 && head < parts.count {
            let remaining = parts[head].remaining
            if left >= remaining {
                left -= remaining
                parts[head] = .bytes([], written: 0)  // release the memory now
                head += 1
            } else {
                switch parts[head] {
                case .bytes(let bytes, let written): parts[head] = .bytes(bytes, written: written + left)
                case .file(let region, let sent): parts[head] = .file(region, sent: sent + left)
                }
                left = 0
            }
        }
        if head > 1024 && head * 2 > parts.count {
            parts.removeFirst(head)
            head = 0
        }
    }
}
