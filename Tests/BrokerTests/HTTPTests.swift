// The HTTP listener's framing sans IO (heads and bodies bounded before anything is kept, a
// problem answered rather than dropped), and its answers through a live broker: /healthz,
// /readyz, /metrics in Prometheus' text format, 404, 405, keep-alive; the console's JSON API
// (topics, records, configs, groups' offsets, read-only refusals) and the JSON it speaks.

import KafkaProtocol
import Security
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

    /// Sends one request on a new connection and reads the whole answer: status and body.
    static func exchange(
        _ address: SocketAddress, _ method: String, _ target: String, body: String = "",
        headers: String = "Content-Type: application/json\r\n"
    ) throws -> (Int, String) {
        let client = try TestClient(address)
        let request = "\(method) \(target) HTTP/1.1\r\nHost: \(address)\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n"
        try client.send(Array((request + body).utf8))
        var head = ""
        while !head.hasSuffix("\r\n\r\n") { head += String(decoding: try client.read(exactly: 1) ?? [], as: UTF8.self) }
        let length = Int(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }!.split(separator: " ")[1])!
        let status = Int(head.split(separator: " ")[1])!
        return (status, String(decoding: try client.read(exactly: length) ?? [], as: UTF8.self))
    }

    @Test func theConsoleAPIReadsAndChangesWhatKafkaRequestsWould() throws {
        try withBroker({ $0.httpListener = SocketAddress("127.0.0.1:0")! }) { broker, _ in
            let address = broker.httpAddress!
            func call(_ method: String, _ target: String, _ body: String = "") throws -> (Int, JSON) {
                let (status, text) = try Self.exchange(address, method, target, body: body)
                return (status, try #require(JSON.parse(Array(text.utf8)), "\(text)"))
            }
            #expect(
                try call("POST", "/api/v1/topics", #"{"name":"console","partitions":2,"configs":{"cleanup.policy":"compact"}}"#).0 == 201)
            #expect(try call("POST", "/api/v1/topics", #"{"name":"console","partitions":2}"#).1["error"] == .string("TOPIC_ALREADY_EXISTS"))
            #expect(try call("POST", "/api/v1/topics", #"{"name":"bad/name"}"#).1["error"] == .string("INVALID_TOPIC_EXCEPTION"))
            #expect(try call("POST", "/api/v1/topics", "{not json").0 == 400)
            let produced = try call(
                "POST", "/api/v1/topics/console/messages", #"{"partition":1,"key":"k","value":"{\"a\":1}","headers":{"h":"v"}}"#)
            #expect(produced.0 == 200 && produced.1["offset"] == .number(0))
            let page = try call("GET", "/api/v1/topics/console/messages?partition=1&offset=0").1
            guard case .array(let records)? = page["records"], let record = records.first else {
                Issue.record("no records: \(page.text)")
                return
            }
            #expect(record["key"] == .string(Base64.encode(Array("k".utf8))))
            #expect(record["value"] == .string(Base64.encode(Array(#"{"a":1}"#.utf8))))
            #expect(record["headers"] == .array([.object([("key", .string("h")), ("value", .string(Base64.encode(Array("v".utf8))))])]))
            #expect(try call("GET", "/api/v1/topics/console/messages?partition=7").0 == 404)
            // A config set, then returned to its default with null.
            #expect(try call("POST", "/api/v1/topics/console/configs", #"{"configs":{"retention.ms":"1000"}}"#).0 == 200)
            #expect(broker.topics.topic(named: "console")?.configs == ["cleanup.policy": "compact", "retention.ms": "1000"])
            #expect(
                try call("POST", "/api/v1/topics/console/configs", #"{"configs":{"retention.ms":"soon"}}"#).1["error"]
                    == .string("INVALID_CONFIG"))
            #expect(try call("POST", "/api/v1/topics/console/configs", #"{"configs":{"cleanup.policy":null}}"#).0 == 200)
            #expect(broker.topics.topic(named: "console")?.configs == ["retention.ms": "1000"])
            let described = try call("GET", "/api/v1/topics/console").1
            guard case .array(let partitions)? = described["partitions"] else { return }
            #expect(partitions.count == 2 && partitions[1]["highWatermark"] == .number(1))
            // An empty group's offsets, reset to the earliest offset.
            _ = broker.groups.commitOffsets(
                groupId: "resettable", generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil, retentionMilliseconds: -1,
                apiVersion: 8, offsets: [.init(partition: .init(topic: "console", partition: 1), offset: 1, leaderEpoch: -1, metadata: nil)]
            )
            #expect(try call("GET", "/api/v1/groups/resettable").1["offsets"] != nil)
            #expect(try call("POST", "/api/v1/groups/resettable/reset-offsets", #"{"to":"earliest"}"#).0 == 200)
            let (_, offsets) = broker.groups.fetchOffsets(groupId: "resettable", partitions: nil, memberId: nil, memberEpoch: -1)
            #expect(offsets[.init(topic: "console", partition: 1)]?.offset == 0)
            #expect(try call("GET", "/api/v1/groups/nobody").0 == 404)
            #expect(try call("POST", "/api/v1/topics/console/delete").0 == 200)
            #expect(broker.topics.topic(named: "console") == nil)
            #expect(try call("GET", "/api/v1/nothing").0 == 404)
            let overview = try call("GET", "/api/v1/overview").1
            #expect(overview["http"]?["readOnly"] == .bool(false) && overview["broker"]?["nodeId"] == .number(1))
            let (status, index) = try Self.exchange(address, "GET", "/")
            #expect(status == 200 && index.contains("/console.js"))
        }
    }

    /// What a web page of another site could make a browser send is refused: a change not
    /// marked JSON (no preflight), another Origin, a Host that is not loopback's (DNS rebinding).
    @Test func crossSiteRequestsAreRefused() throws {
        try withBroker({ $0.httpListener = SocketAddress("127.0.0.1:0")! }) { broker, _ in
            let address = broker.httpAddress!
            let create = #"{"name":"forged"}"#
            for headers in [
                "Content-Type: text/plain\r\n", "Content-Type: application/json\r\nOrigin: http://evil.example\r\n",
            ] {
                let (status, body) = try Self.exchange(address, "POST", "/api/v1/topics", body: create, headers: headers)
                #expect(status == 403 && body.contains("CROSS_SITE_REQUEST"), "\(headers)")
            }
            let client = try TestClient(address)
            try client.send(Array("GET /api/v1/topics HTTP/1.1\r\nHost: rebound.example:9644\r\nConnection: close\r\n\r\n".utf8))
            #expect(String(decoding: try client.read(exactly: 12) ?? [], as: UTF8.self) == "HTTP/1.1 403")
            #expect(broker.topics.topic(named: "forged") == nil)
            let origin = "Content-Type: application/json\r\nOrigin: http://\(address)\r\n"
            #expect(try Self.exchange(address, "POST", "/api/v1/topics", body: create, headers: origin).0 == 201)
        }
    }

    @Test func aReadOnlyConsoleRefusesChanges() throws {
        try withBroker(
            {
                $0.httpListener = SocketAddress("127.0.0.1:0")!
                $0.consoleReadOnly = true
            }
        ) { broker, _ in
            let (status, body) = try Self.exchange(broker.httpAddress!, "POST", "/api/v1/topics", body: #"{"name":"refused"}"#)
            #expect(status == 403 && body.contains("READ_ONLY"))
            #expect(broker.topics.topic(named: "refused") == nil)
        }
    }

    @Test func requestTargetsAreDecoded() throws {
        let frame = Array("GET /api/v1/topics/a%2Fb/messages?offset=5&q=x+y%21 HTTP/1.1\r\nConnection: close\r\n\r\n".utf8)
        let request = try #require(HTTPRequest(frame: frame[...]))
        #expect(request.path == "/api/v1/topics/a/b/messages" && request.query == ["offset": "5", "q": "x y!"])
        #expect(request.closesConnection)
        #expect(HTTPRequest(frame: Array("GET /\r\n\r\n".utf8)[...]) == nil)
    }

    @Test func jsonRoundTripsAndRefusesWhatIsNotJSON() {
        let text = #"{"a":[1,-2,3.5,true,false,null],"b":"q\"\\\n\u00e9\ud83d\ude00","c":{}}"#
        let value = JSON.parse(Array(text.utf8))
        #expect(value?["a"] == .array([.number(1), .number(-2), .double(3.5), .bool(true), .bool(false), .null]))
        #expect(value?["b"]?.string == "q\"\\\n\u{e9}\u{1F600}")
        #expect(value.map { JSON.parse(Array($0.text.utf8)) == $0 } == true)
        for bad in ["", "{", "[1,]", #"{"a" 1}"#, #""\u12""#, "tru", "1 2", "\"\u{1}\""] {
            #expect(JSON.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(JSON.parse(Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8)) == nil)
        #expect(JSON.string("a\u{1}").text == #""a\u0001""#)
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

    /// /readyz answers 503 with its reason while the broker starts: the responder that holds
    /// the address until the broker exists, which then binds it itself.
    @Test func readinessNamesWhatIsNotReadyYet() throws {
        func get(_ path: String, from address: SocketAddress) throws -> String {
            let client = try TestClient(address)
            try client.send(Array("GET \(path) HTTP/1.0\r\n\r\n".utf8))
            var text = ""
            while let byte = try client.read(exactly: 1) { text += String(decoding: byte, as: UTF8.self) }
            return text
        }
        let probe = try #require(Broker.startingResponder(on: SocketAddress("127.0.0.1:0")!))
        let address = try #require(probe.boundAddresses.first)
        probe.shutdown()
        probe.waitUntilStopped()
        let starting = try #require(Broker.startingResponder(on: address))
        #expect(try get("/healthz", from: address).hasPrefix("HTTP/1.1 200"))
        let answer = try get("/readyz", from: address)
        #expect(answer.hasPrefix("HTTP/1.1 503") && answer.hasSuffix("starting: recovering logs and replaying coordinators\n"))
        #expect(try get("/metrics", from: address).hasPrefix("HTTP/1.1 503"))
        starting.shutdown()
        starting.waitUntilStopped()
        // The broker binds the same address once the responder is gone.
        try withBroker({ $0.httpListener = address }) { broker, _ in
            let ready = try get("/readyz", from: address)
            #expect(ready.hasSuffix("ready\n") && broker.httpAddress == address)
        }
    }
}
