// The hot-path counters of one event loop: requests, errors, latencies, traffic per topic
// and connections, written only on that loop's thread with plain arithmetic (no atomics, no
// locks); a scrape asks each loop for a copy and sums them (BrokerMetrics).

import KafkaProtocol
import Reactor

/// What one loop counted since the start; values add up across loops.
struct MetricsSnapshot: Sendable {
    struct RequestKey: Hashable, Sendable {
        let apiKey: Int16
        let version: Int16
    }

    struct ErrorKey: Hashable, Sendable {
        let apiKey: Int16
        let errorCode: Int16
    }

    struct RequestLatency: Sendable {
        var queue = LatencyHistogram()
        var handler = LatencyHistogram()
        var send = LatencyHistogram()

        mutating func add(_ other: RequestLatency) {
            queue.add(other.queue)
            handler.add(other.handler)
            send.add(other.send)
        }
    }

    struct TopicTraffic: Sendable {
        var messagesIn = 0
        var bytesIn = 0
        /// Offsets of the whole batches sent to consumers (control records and compacted
        /// gaps included), past their fetch offsets.
        var messagesOut = 0
        var bytesOut = 0
        var failedProduceRequests = 0
        var failedFetchRequests = 0

        mutating func add(_ other: TopicTraffic) {
            messagesIn += other.messagesIn
            bytesIn += other.bytesIn
            messagesOut += other.messagesOut
            bytesOut += other.bytesOut
            failedProduceRequests += other.failedProduceRequests
            failedFetchRequests += other.failedFetchRequests
        }
    }

    /// Requests received, by api key and version.
    var requests: [RequestKey: Int] = [:]
    /// Responses carrying at least one error code, by api key and version.
    var failedRequests: [RequestKey: Int] = [:]
    /// Error codes in responses, each counted once per place it appears (Kafka's ErrorsPerSec).
    var errors: [ErrorKey: Int] = [:]
    var latency: [Int16: RequestLatency] = [:]
    var topics: [String: TopicTraffic] = [:]
    /// Connections accepted and closed, by listener index.
    var connectionsCreated: [Int: Int] = [:]
    var connectionsClosed: [Int: Int] = [:]
    /// Loop-only state copied at the scrape: response bytes waiting to be written.
    var queuedResponseBytes = 0
    /// Fetches waiting for data or max_wait_ms (a gauge, kept up by FetchOperation).
    var parkedFetches = 0

    mutating func add(_ other: MetricsSnapshot) {
        requests.merge(other.requests, uniquingKeysWith: +)
        failedRequests.merge(other.failedRequests, uniquingKeysWith: +)
        errors.merge(other.errors, uniquingKeysWith: +)
        for (key, value) in other.latency { latency[key, default: RequestLatency()].add(value) }
        for (key, value) in other.topics { topics[key, default: TopicTraffic()].add(value) }
        connectionsCreated.merge(other.connectionsCreated, uniquingKeysWith: +)
        connectionsClosed.merge(other.connectionsClosed, uniquingKeysWith: +)
        queuedResponseBytes += other.queuedResponseBytes
        parkedFetches += other.parkedFetches
    }
}

/// A Prometheus histogram of durations: counts per bucket (not cumulative: summed into
/// `le` buckets when written out), their sum and their number.
struct LatencyHistogram: Sendable {
    /// Upper bounds in seconds, from 50 µs (a Metadata request) to 10 s (a long poll).
    static let bounds: [Double] = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    private static let boundsInNanoseconds: [UInt64] = bounds.map { UInt64($0 * 1e9) }

    /// One more than `bounds`: the last is +Inf.
    private(set) var counts = [Int](repeating: 0, count: bounds.count + 1)
    private(set) var sumNanoseconds: UInt64 = 0
    var count: Int { counts.reduce(0, +) }

    mutating func record(nanoseconds: UInt64) {
        var bucket = 0
        while bucket < Self.boundsInNanoseconds.count && nanoseconds > Self.boundsInNanoseconds[bucket] { bucket += 1 }
        counts[bucket] += 1
        sumNanoseconds &+= nanoseconds
    }

    mutating func add(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        sumNanoseconds &+= other.sumNanoseconds
    }

    var sumSeconds: Double { Double(sumNanoseconds) / 1e9 }
}

/// One event loop's counters. Every method runs on `eventLoop` (checked).
final class ReactorMetrics: @unchecked Sendable {
    let eventLoop: EventLoop
    private var counted = MetricsSnapshot()
    /// Requests and latencies by api key (then version): arrays, so that the request path
    /// hashes nothing; made into the snapshot's dictionaries at a scrape.
    private var requests = [[Int]](repeating: [], count: ReactorMetrics.apiKeys)
    private var latencies = [MetricsSnapshot.RequestLatency?](repeating: nil, count: ReactorMetrics.apiKeys)
    private var clients: [ObjectIdentifier: ConnectedClient] = [:]
    /// Api keys go up to 92 in Kafka 4.x.
    private static let apiKeys = 128

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func requestReceived(apiKey: Int16, version: Int16) {
        eventLoop.preconditionInEventLoop()
        let (key, version) = (Int(apiKey), Int(version))
        guard key >= 0 && key < Self.apiKeys && version >= 0 else { return }
        if requests[key].count <= version { requests[key] += [Int](repeating: 0, count: version + 1 - requests[key].count) }
        requests[key][version] += 1
    }

    /// A response given: its queue and handler times and its error codes.
    func responded(
        _ response: some KafkaResponse, apiKey: Int16, version: Int16, queueNanoseconds: UInt64, handlerNanoseconds: UInt64
    ) {
        eventLoop.preconditionInEventLoop()
        let key = Int(apiKey)
        guard key >= 0 && key < Self.apiKeys else { return }
        if latencies[key] == nil { latencies[key] = .init() }
        latencies[key]!.queue.record(nanoseconds: queueNanoseconds)
        latencies[key]!.handler.record(nanoseconds: handlerNanoseconds)
        var failed = false
        response.visitErrorCodes { code in
            guard code != 0 else { return }
            failed = true
            counted.errors[.init(apiKey: apiKey, errorCode: code), default: 0] += 1
        }
        if failed { counted.failedRequests[.init(apiKey: apiKey, version: version), default: 0] += 1 }
    }

    func responseWritten(apiKey: Int16, nanoseconds: UInt64) {
        eventLoop.preconditionInEventLoop()
        let key = Int(apiKey)
        guard key >= 0 && key < Self.apiKeys else { return }
        if latencies[key] == nil { latencies[key] = .init() }
        latencies[key]!.send.record(nanoseconds: nanoseconds)
    }

    func produced(topic: String, messages: Int, bytes: Int) {
        eventLoop.preconditionInEventLoop()
        counted.topics[topic, default: .init()].add(.init(messagesIn: messages, bytesIn: bytes))
    }

    func produceFailed(topic: String) {
        eventLoop.preconditionInEventLoop()
        counted.topics[topic, default: .init()].failedProduceRequests += 1
    }

    func fetched(topic: String, records: Int, bytes: Int) {
        eventLoop.preconditionInEventLoop()
        counted.topics[topic, default: .init()].add(.init(messagesOut: records, bytesOut: bytes))
    }

    func fetchFailed(topic: String) {
        eventLoop.preconditionInEventLoop()
        counted.topics[topic, default: .init()].failedFetchRequests += 1
    }

    var parkedFetches: Int {
        get { counted.parkedFetches }
        set {
            eventLoop.preconditionInEventLoop()
            counted.parkedFetches = newValue
        }
    }

    func connectionOpened(_ client: ConnectedClient) {
        eventLoop.preconditionInEventLoop()
        counted.connectionsCreated[client.listener, default: 0] += 1
        clients[ObjectIdentifier(client)] = client
    }

    func connectionClosed(_ client: ConnectedClient) {
        eventLoop.preconditionInEventLoop()
        counted.connectionsClosed[client.listener, default: 0] += 1
        clients[ObjectIdentifier(client)] = nil
    }

    /// A copy of the counters, with the loop's queued output and its clients; on the loop.
    func snapshot() -> (MetricsSnapshot, [ConnectedClient.Description]) {
        eventLoop.preconditionInEventLoop()
        var copy = counted
        for (key, versions) in requests.enumerated() {
            for (version, count) in versions.enumerated() where count > 0 {
                copy.requests[.init(apiKey: Int16(key), version: Int16(version))] = count
            }
        }
        for (key, latency) in latencies.enumerated() { if let latency { copy.latency[Int16(key)] = latency } }
        copy.queuedResponseBytes = eventLoop.queuedOutputBytes
        return (copy, clients.values.map(\.description))
    }
}
