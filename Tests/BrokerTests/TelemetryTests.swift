// KIP-714 client telemetry sans IO: the OTLP payload decoded into series (and mutated
// payloads refused without a crash, as client input must be), Kafka's rules for
// subscriptions and pushes in Kafka's order, and the latency histograms' buckets.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import SystemCalls
import TestSupport
import Testing

@testable import Broker

/// A protobuf writer for building payloads as clients do.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        bytes(field, nested.bytes)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        varint(UInt64(field << 3 | 2))
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        varint(UInt64(field << 3 | 1))
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    mutating func varintField(_ field: Int, _ value: UInt64) {
        varint(UInt64(field << 3))
        varint(value)
    }
}

@Suite struct TelemetryTests {
    /// MetricsData as librdkafka writes it: a resource attribute, a gauge with a double point
    /// and an int attribute (node.id -1, a 10-byte varint), a monotonic sum with an int point.
    static func payload() -> [UInt8] {
        var writer = ProtobufWriter()
        writer.message(1) { resourceMetrics in
            resourceMetrics.message(1) { resource in
                resource.message(1) { keyValue in
                    keyValue.string(1, "transactional_id")
                    keyValue.message(2) { $0.string(1, "tx-1") }
                }
            }
            resourceMetrics.message(2) { scopeMetrics in
                scopeMetrics.message(1) { $0.string(1, "rdkafka#producer-1") }
                scopeMetrics.message(2) { metric in
                    metric.string(1, "org.apache.kafka.producer.node.request.latency.avg")
                    metric.string(2, "The average request latency")
                    metric.message(5) { gauge in
                        gauge.message(1) { point in
                            point.fixed64(3, 1_700_000_000_000_000_000)
                            point.fixed64(4, (2.5).bitPattern)
                            point.message(7) { keyValue in
                                keyValue.string(1, "node.id")
                                keyValue.message(2) { $0.varintField(3, UInt64(bitPattern: -1)) }
                            }
                        }
                    }
                }
                scopeMetrics.message(2) { metric in
                    metric.string(1, "org.apache.kafka.producer.connection.creation.total")
                    metric.message(7) { sum in
                        sum.message(1) { point in point.fixed64(6, 3) }
                        sum.varintField(2, 2)
                        sum.varintField(3, 1)
                    }
                }
            }
        }
        return writer.bytes
    }

    @Test func otlpMetricsDecodeIntoSeries() throws {
        let decoded = try OTLPMetrics.decode(Self.payload())
        #expect(
            decoded == [
                TelemetrySeries(name: "org.apache.kafka.producer.node.request.latency.avg", attributes: [("node.id", "-1")], value: 2.5),
                TelemetrySeries(name: "org.apache.kafka.producer.connection.creation.total", attributes: [], value: 3),
            ])
        #expect(throws: OTLPError.self) { try OTLPMetrics.decode([0x0A, 0x05, 0x01]) }  // a length past the end
        #expect(throws: OTLPError.self) { try OTLPMetrics.decode([0x0F]) }  // wire type 7
        #expect(try OTLPMetrics.decode([]).isEmpty)
    }

    /// Client input: every mutation of a valid payload (TestSupport's: flipped bits, cut
    /// tails, hostile lengths) decodes or is refused; none crashes, none passes the cap.
    @Test func mutatedPayloadsNeverCrashTheDecoder() throws {
        var generator = SplitMix64(seed: 714)
        let valid = Self.payload()
        for _ in 0..<20_000 {
            var bytes = valid
            mutate(&bytes, using: &generator)
            if let decoded = try? OTLPMetrics.decode(bytes) { #expect(decoded.count <= OTLPMetrics.maximumSeries) }
        }
        // A push of many series keeps the first ones; many attributes and long text are cut.
        var writer = ProtobufWriter()
        writer.message(1) { resourceMetrics in
            resourceMetrics.message(2) { scopeMetrics in
                scopeMetrics.message(2) { metric in
                    metric.string(1, String(repeating: "n", count: 1_000))
                    metric.message(5) { gauge in
                        gauge.message(1) { point in
                            for index in 0..<100 {
                                point.message(7) { keyValue in
                                    keyValue.string(1, "key\(index)")
                                    keyValue.message(2) { $0.string(1, String(repeating: "v", count: 1_000)) }
                                }
                            }
                            point.fixed64(4, 0)
                        }
                        for _ in 0...OTLPMetrics.maximumSeries { gauge.message(1) { $0.fixed64(4, 0) } }
                    }
                }
            }
        }
        let capped = try OTLPMetrics.decode(writer.bytes)
        #expect(capped.count == OTLPMetrics.maximumSeries)
        #expect(capped[0].attributes.count == OTLPMetrics.maximumAttributes && capped[0].name.utf8.count == OTLPMetrics.maximumTextBytes)
        #expect(capped[0].attributes.allSatisfy { $0.1.utf8.count == OTLPMetrics.maximumTextBytes })
    }

    @Test func subscriptionsAndPushesFollowKafkasRules() throws {
        let telemetry = ClientTelemetry(pushIntervalMilliseconds: 1_000, maximumBytes: 4_096)
        var now: Int64 = 1_000_000
        let subscribed = telemetry.subscribe(clientInstanceId: .zero, clientId: "c", softwareName: "s", softwareVersion: "1", now: now)
        #expect(subscribed.error == .none && subscribed.id != .zero)
        #expect(subscribed.subscriptionId == telemetry.subscriptionId(for: subscribed.id))
        // Asking again at once is throttled; the id the client has is kept.
        #expect(
            telemetry.subscribe(clientInstanceId: subscribed.id, clientId: "c", softwareName: "s", softwareVersion: "1", now: now).error
                == .throttlingQuotaExceeded)
        func push(_ metrics: [UInt8] = Self.payload(), subscription: Int32? = nil, compression: Int8 = 0, terminating: Bool = false)
            -> ErrorCode
        {
            telemetry.push(
                clientInstanceId: subscribed.id, subscriptionId: subscription ?? subscribed.subscriptionId, terminating: terminating,
                compressionType: compression, metrics: metrics, now: now)
        }
        // The first push after a Get is taken at once; each refused push past the time check
        // still counts as the last push (as Kafka), so the next waits an interval.
        #expect(push(subscription: subscribed.subscriptionId &+ 1) == .unknownSubscriptionId)
        #expect(push(compression: 9) == .throttlingQuotaExceeded)
        now += 1_000
        #expect(push(compression: 9) == .unsupportedCompressionType)
        now += 1_000
        #expect(push([UInt8](repeating: 0, count: 5_000)) == .telemetryTooLarge)
        now += 1_000
        #expect(push([0x0F]) == .invalidRecord)
        now += 1_000
        #expect(push(try Compression.compress(Self.payload(), codec: .zstd), compression: 4) == .none)
        #expect(telemetry.latest(now: now).first?.instance.series.count == 2)
        now += 500
        #expect(push() == .throttlingQuotaExceeded)  // half an interval after the last push
        now += 500
        #expect(push([]) == .none)  // nothing matched: empty, and accepted
        #expect(push(terminating: true) == .none)  // a terminating push skips the interval
        now += 5_000
        #expect(push() == .invalidRequest)  // nothing after it
        #expect(
            telemetry.push(clientInstanceId: .zero, subscriptionId: 0, terminating: false, compressionType: 0, metrics: [], now: now)
                == .invalidRequest)
        #expect(
            telemetry.push(clientInstanceId: .random(), subscriptionId: 0, terminating: false, compressionType: 0, metrics: [], now: now)
                == .unknownSubscriptionId)
    }

    /// What clients name cannot break the scrape: illegal or reserved label names are made
    /// legal, a label repeated after that is kept once, a series repeated is kept once, and
    /// control characters in values never split a line.
    @Test func clientNamedSeriesAreAlwaysLegalPrometheus() {
        let hostile: [(String, String)] = [("node.id", "-1"), ("node_id", "2"), ("", "e"), ("9lives", "n"), ("__name__", "x")]
        let instance = ClientTelemetry.Instance(
            subscriptionId: 1, lastSeenMilliseconds: 0, clientId: "a\r\nb\"\\", softwareName: "s", softwareVersion: "1",
            series: [
                TelemetrySeries(name: "org.apache.kafka.producer.node.request.latency.avg", attributes: hostile, value: 1),
                TelemetrySeries(name: "org.apache.kafka.producer.node.request.latency.avg", attributes: hostile, value: 2),
            ])
        let families = MetricsExposition.telemetryFamilies([(Uuid(mostSignificantBits: 1, leastSignificantBits: 2), instance)])
        #expect(families.map(\.name) == ["clients_org_apache_kafka_producer_node_request_latency_avg"])
        let labels = families[0].samples.map(\.labels)
        #expect(labels.count == 1)
        let names = labels[0].map(\.0)
        #expect(Set(names).count == names.count)
        #expect(
            names.allSatisfy {
                !$0.hasPrefix("__") && !($0.first?.isNumber ?? true) && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            })
        #expect(labels[0].first { $0.0 == "node_id" }?.1 == "-1")
        let text = MetricsExposition.labelText(labels[0])
        #expect(!text.contains("\n") && !text.contains("\r") && text.contains(#"client_id="a \nb\"\\""#))
    }

    /// A client asking for new instance ids without end cannot grow the cache past its bound.
    @Test func endlessNewInstancesStayBounded() {
        let telemetry = ClientTelemetry(pushIntervalMilliseconds: 1_000, maximumBytes: 4_096)
        for index in 0..<(ClientTelemetry.maximumInstances + 5_000) {
            _ = telemetry.subscribe(clientInstanceId: .zero, clientId: "c", softwareName: "s", softwareVersion: "1", now: Int64(index))
        }
        #expect(telemetry.instanceCount <= ClientTelemetry.maximumInstances)
    }

    /// Made-up topic names in fetches are refused without a counter each: /metrics lists
    /// topics that exist.
    @Test func unknownTopicsGrowNoCounters() throws {
        try withBroker({ $0.httpListener = SocketAddress("127.0.0.1:0")! }) { broker, address in
            let client = try KafkaTestClient(address)
            let names = (0..<50).map { "made-up-\($0)" }
            let fetch = FetchRequest(
                maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20,
                topics: names.map { .init(topic: $0, partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]) })
            let answered = try client.send(fetch, version: 12)
            #expect(answered.responses.allSatisfy { $0.partitions[0].errorCode == ErrorCode.unknownTopicOrPartition.rawValue })
            let (_, metrics) = try HTTPTests.exchange(broker.httpAddress!, "GET", "/metrics")
            #expect(
                !metrics.contains("made-up-")
                    && metrics.contains(#"kafka_network_request_errors_total{request="Fetch",error="UNKNOWN_TOPIC_OR_PARTITION"} 50"#))
        }
    }

    /// telemetry.enabled=false: ApiVersions leaves KIP-714's APIs out, so clients push nothing.
    @Test func telemetryOffIsNotAdvertised() throws {
        for enabled in [true, false] {
            try withBroker({ $0.telemetryEnabled = enabled }) { _, address in
                let client = try KafkaTestClient(address)
                let versions = try client.send(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: 3)
                let keys = Set(versions.apiKeys.map(\.apiKey))
                #expect(keys.contains(ApiKey.getTelemetrySubscriptions.rawValue) == enabled)
                #expect(keys.contains(ApiKey.pushTelemetry.rawValue) == enabled && keys.contains(ApiKey.produce.rawValue))
            }
        }
    }

    @Test func latencyHistogramsBucketByUpperBound() {
        var histogram = LatencyHistogram()
        histogram.record(nanoseconds: 50_000)  // exactly 50 µs: the first bucket
        histogram.record(nanoseconds: 50_001)
        histogram.record(nanoseconds: 60_000_000_000)  // past 10 s: +Inf
        #expect(histogram.counts[0] == 1 && histogram.counts[1] == 1 && histogram.counts.last == 1 && histogram.count == 3)
        var sum = MetricsSnapshot()
        sum.latency[0] = .init(queue: histogram, handler: histogram, send: histogram)
        var other = MetricsSnapshot()
        other.latency[0] = .init(queue: histogram, handler: .init(), send: .init())
        other.requests[.init(apiKey: 0, version: 9)] = 2
        sum.add(other)
        #expect(sum.latency[0]?.queue.count == 6 && sum.latency[0]?.handler.count == 3 && sum.requests.values.first == 2)
    }
}
