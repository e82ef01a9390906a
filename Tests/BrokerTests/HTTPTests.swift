// The HTTP listener's framing sans IO (heads and bodies bounded before anything is kept, a
// problem answered rather than dropped), and its answers through a live broker: /healthz,
// /readyz, /metrics in Prometheus' text format, 404, 405, keep-alive.

import KafkaProtocol
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct HTTPTests {
    func frames(_ chunks: [String]) -> [[UInt8]] {
        var framing = HTTPRequestFraming()
        var frames: [[UInt8]] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { try? framing.append($0, to: &frames) }
        }
        return frames
    }

    @Test func requestsAreCutWhereverTheBytesSplit() {
        let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        let post = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        let whole = frames([request + post])
        #expect(whole.count == 2 && whole[0].first == 0 && whole[1].suffix(5) == Array("hello".utf8))
        let split = frames(request.map { String($0) } + [String(post.prefix(10)), String(post.dropFirst(10))])
        #expect(split == whole)
    }

    @Test func oversizedOrUnreadableRequestsBecomeProblemFrames() {
        #expect(frames([String(repeating: "a", count: 9_000)]).map(\.first) == [1])  // no blank line within 8 KiB
        #expect(frames(["POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n"]).map(\.first) == [2])
        #expect(frames(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"]).map(\.first) == [3])
        #expect(frames(["GET / HTTP/1.1\r\nContent-Length: -4\r\n\r\n", "GET / HTTP/1.1\r\n\r\n"]).map(\.first) == [3])
    }

    @Test func healthReadinessAndMetricsThroughTheListener() throws {
        try withBroker({ $0.httpListener = SocketAddress("127.0.0.1:0")! }) { broker, _ in
            _ = try broker.createTopic(name: "observed", partitions: 2)
            let client = try TestClient(broker.httpAddress!)
            func get(_ request: String) throws -> String {
                try client.send(Array(request.utf8))
                var text = ""
                while !text.contains("\r\n\r\n") { text += String(decoding: try client.read(exactly: 1) ?? [], as: UTF8.self) }
                let length = Int(
                    text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }!.split(separator: " ")[1])!
                return text + String(decoding: try client.read(exactly: length) ?? [], as: UTF8.self)
            }
            #expect(try get("GET /healthz HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
            #expect(try get("GET /readyz HTTP/1.1\r\n\r\n").hasSuffix("ready\n"))
            let metrics = try get("GET /metrics HTTP/1.1\r\n\r\n")
            #expect(metrics.contains("text/plain; version=0.0.4"))
            #expect(metrics.contains("kafka_log_log_end_offset{topic=\"observed\",partition=\"1\"} 0"))
            #expect(try get("GET /nowhere HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404"))
            #expect(try get("DELETE /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405"))
            // Still the same connection: keep-alive.
            #expect(try get("GET /healthz HTTP/1.0\r\n\r\n").contains("Connection: close"))
            #expect(try client.waitForClose())
        }
    }
}
