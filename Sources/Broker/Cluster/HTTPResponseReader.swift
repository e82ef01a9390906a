// An HTTP/1.1 response cut from the bytes a server sends, sans IO, for the etcd client: the
// status line, headers, and a body of Content-Length bytes or in chunks. Sizes are checked
// before anything is kept, so a wrong port answering garbage cannot make it allocate.

struct HTTPResponseReader {
    /// The largest head and body taken; etcd's answers to us are a few KiB.
    static let maximumHeadBytes = 16 * 1024
    static let maximumBodyBytes = 4 * 1024 * 1024

    enum Failure: Error, Equatable {
        case malformed(String)
        case tooLarge
    }

    struct Response: Equatable {
        var status: Int
        var body: [UInt8]
    }

    private var pending: [UInt8] = []
    private var head: (status: Int, length: Int?, chunked: Bool, bodyStart: Int)?
    private var chunks = ChunkDecoder()
    private var body: [UInt8] = []

    /// Adds bytes read; the response once it is whole, nil while more are needed.
    mutating func append(_ bytes: some Collection<UInt8>) throws(Failure) -> Response? {
        if let head, head.chunked {
            body += try chunks.append(bytes, bodySoFar: body.count)
            return chunks.isFinished ? Response(status: head.status, body: body) : nil
        }
        pending += bytes
        if head == nil {
            guard let end = HTTPRequestFraming.headEnd(in: pending) else {
                if pending.count > Self.maximumHeadBytes { throw .tooLarge }
                return nil
            }
            let parsed = try Self.parseHead(Array(pending[..<end]), bodyStart: end + 4)
            head = parsed
            if parsed.chunked {
                let rest = pending[parsed.bodyStart...]
                pending = []
                return try append(rest)
            }
        }
        guard let head else { return nil }
        let length = head.length ?? 0
        guard length <= Self.maximumBodyBytes else { throw .tooLarge }
        guard pending.count >= head.bodyStart + length else { return nil }
        return Response(status: head.status, body: Array(pending[head.bodyStart..<head.bodyStart + length]))
    }

    static func parseHead(_ bytes: [UInt8], bodyStart: Int) throws(Failure) -> (status: Int, length: Int?, chunked: Bool, bodyStart: Int) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n")
        let statusLine = (lines.first ?? "").split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw .malformed("not an HTTP response: \(lines.first ?? "")")
        }
        guard let fields = HTTPRequestFraming.headerFields(bytes) else { throw .malformed("header line without a colon") }
        var length: Int?
        var chunked = false
        for (name, value) in fields {
            if name == "content-length" {
                guard let parsed = Int(value), parsed >= 0 else { throw .malformed("Content-Length \(value)") }
                length = parsed
            } else if name == "transfer-encoding" {
                chunked = value.lowercased().contains("chunked")
            }
        }
        return (status, length, chunked, bodyStart)
    }

    static func lineEnd(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}

/// HTTP/1.1's chunked transfer coding, decoded as bytes come ("size CRLF data CRLF" until a
/// chunk of size 0), with the body's size bounded before anything is kept.
struct ChunkDecoder {
    /// A chunk-size line is a few hex digits and perhaps an extension: longer is not HTTP.
    static let maximumSizeLineBytes = 256
    private var pending: [UInt8] = []
    private(set) var isFinished = false

    /// Adds bytes read; the data of the chunks now whole. `bodySoFar` is what earlier chunks
    /// gave: the body may not pass HTTPResponseReader.maximumBodyBytes in all.
    mutating func append(_ bytes: some Collection<UInt8>, bodySoFar: Int) throws(HTTPResponseReader.Failure) -> [UInt8] {
        guard !isFinished else { return [] }
        pending += bytes
        var data: [UInt8] = []
        while let lineEnd = HTTPResponseReader.lineEnd(in: pending, from: 0) {
            let sizeText = String(decoding: pending[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmed, radix: 16), size >= 0 else { throw .malformed("chunk size \(sizeText)") }
            guard size <= HTTPResponseReader.maximumBodyBytes - bodySoFar - data.count else { throw .tooLarge }
            guard pending.count >= lineEnd + 2 + size + 2 else { return data }
            if size == 0 {
                isFinished = true
                pending = []
                return data
            }
            data += pending[(lineEnd + 2)..<(lineEnd + 2 + size)]
            pending.removeFirst(lineEnd + 2 + size + 2)
        }
        if pending.count > Self.maximumSizeLineBytes {
            throw .malformed("a chunk-size line of more than \(Self.maximumSizeLineBytes) bytes")
        }
        return data
    }
}

/// A response that streams (etcd's watch): once its head has come, the newline-delimited
/// messages of its chunked body, each as soon as it is whole. Bounded as HTTPResponseReader.
struct HTTPMessageStream {
    private var head: [UInt8] = []
    private var headRead = false
    private var chunks = ChunkDecoder()
    /// Body bytes not yet cut into messages.
    private var body: [UInt8] = []

    /// Adds bytes read; the messages now whole, in order. Throws for a status other than 200,
    /// a body that is not chunked, or a message over the body limit.
    mutating func append(_ bytes: some Collection<UInt8>) throws(HTTPResponseReader.Failure) -> [[UInt8]] {
        var rest = Array(bytes)
        if !headRead {
            head += rest
            guard let end = HTTPRequestFraming.headEnd(in: head) else {
                if head.count > HTTPResponseReader.maximumHeadBytes { throw .tooLarge }
                return []
            }
            let parsed = try HTTPResponseReader.parseHead(Array(head[..<end]), bodyStart: end + 4)
            guard parsed.status == 200 else { throw .malformed("status \(parsed.status)") }
            guard parsed.chunked else { throw .malformed("a stream that is not chunked") }
            rest = Array(head[parsed.bodyStart...])
            head = []
            headRead = true
        }
        body += try chunks.append(rest, bodySoFar: body.count)
        var messages: [[UInt8]] = []
        while let newline = body.firstIndex(of: 10) {
            let message = Array(body[..<newline])
            body.removeFirst(newline + 1)
            if !message.allSatisfy({ $0 == 13 || $0 == 32 }) { messages.append(message) }
        }
        return messages
    }
}
