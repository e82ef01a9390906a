// HTTP/1.1 requests cut from a connection's byte stream, sans IO, for the broker's HTTP
// listener (health and metrics): a request is its head up to the blank line and a body of
// Content-Length bytes. Both are bounded before anything is kept; what breaks a rule becomes a
// one-byte frame naming the problem, which the connection answers (400, 413, 431) and closes.

import Reactor

struct HTTPRequestFraming: Framing {
    /// Request line and headers, together.
    static let maximumHeadBytes = 8 * 1024
    static let maximumBodyBytes = 64 * 1024

    enum FrameKind: UInt8 {
        case request = 0
        case headTooLarge = 1
        case bodyTooLarge = 2
        case malformed = 3
    }

    private var pending: [UInt8] = []
    /// Set once a problem frame is out: nothing more is read from this connection.
    private var failed = false

    mutating func append(_ bytes: UnsafeRawBufferPointer, to frames: inout [[UInt8]]) throws(FramingError) {
        guard !failed else { return }
        pending += bytes
        while let frame = nextFrame() {
            frames.append(frame)
            if frame.first != FrameKind.request.rawValue {
                failed = true
                pending = []
                return
            }
        }
    }

    /// HTTP responses carry their own status line and headers.
    func responsePrefix(size: Int) throws(FramingError) -> [UInt8] { [] }

    private mutating func nextFrame() -> [UInt8]? {
        guard let headEnd = Self.headEnd(in: pending) else {
            return pending.count > Self.maximumHeadBytes ? [FrameKind.headTooLarge.rawValue] : nil
        }
        guard headEnd <= Self.maximumHeadBytes else { return [FrameKind.headTooLarge.rawValue] }
        let head = Array(pending[..<headEnd])
        guard let length = Self.contentLength(head) else { return [FrameKind.malformed.rawValue] }
        guard length <= Self.maximumBodyBytes else { return [FrameKind.bodyTooLarge.rawValue] }
        let end = headEnd + 4 + length
        guard pending.count >= end else { return nil }
        let frame = [FrameKind.request.rawValue] + pending[..<end]
        pending.removeFirst(end)
        return frame
    }

    /// Where the head's blank line ("\r\n\r\n") starts.
    static func headEnd(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// The Content-Length of a head (0 without one); nil for a chunked or unreadable body.
    static func contentLength(_ head: [UInt8]) -> Int? {
        guard let fields = headerFields(head) else { return nil }
        var length = 0
        for (name, value) in fields {
            if name == "content-length" {
                guard let parsed = Int(value), parsed >= 0 else { return nil }
                length = parsed
            } else if name == "transfer-encoding" {
                return nil
            }
        }
        return length
    }

    /// The header fields of a head (the lines after its first), names lower-cased and values
    /// trimmed, in order; nil when a line has no colon. Requests and etcd's answers alike.
    static func headerFields(_ head: [UInt8]) -> [(name: String, value: String)]? {
        var fields: [(name: String, value: String)] = []
        for line in String(decoding: head, as: UTF8.self).split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            fields.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...].trimmed)))
        }
        return fields
    }
}
