// /metrics in Prometheus' text format: what each event loop counted (requests, errors,
// latencies, traffic per topic, connections), summed at the scrape, and what the broker's
// state says at that moment (partition offsets, sizes and segments; groups and their lag).
// Built on the admin thread, off the event loops.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage
import SystemCalls

enum MetricsExposition {
    typealias Labels = [(String, String)]

    static func text(of broker: Broker, counted: MetricsSnapshot) -> String {
        var output = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: Labels, value: Int64)]) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { output += "\(name)\(labelText(sample.labels)) \(sample.value)\n" }
        }
        func histograms(_ name: String, _ help: String, _ phase: (MetricsSnapshot.RequestLatency) -> LatencyHistogram) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (apiKey, latency) in counted.latency.sorted(by: { $0.key < $1.key }) {
                let histogram = phase(latency)
                let request = ("request", ApiKey(rawValue: apiKey)?.name ?? String(apiKey))
                var cumulative = 0
                for (index, count) in histogram.counts.enumerated() {
                    cumulative += count
                    let bound = index < LatencyHistogram.bounds.count ? String(LatencyHistogram.bounds[index]) : "+Inf"
                    output += "\(name)_bucket\(labelText([request, ("le", bound)])) \(cumulative)\n"
                }
                output += "\(name)_sum\(labelText([request])) \(histogram.sumSeconds)\n"
                output += "\(name)_count\(labelText([request])) \(cumulative)\n"
            }
        }
        func requestName(_ apiKey: Int16) -> String { ApiKey(rawValue: apiKey)?.name ?? String(apiKey) }
        func perRequest(_ counts: [MetricsSnapshot.RequestKey: Int]) -> [(labels: Labels, value: Int64)] {
            counts.sorted { ($0.key.apiKey, $0.key.version) < ($1.key.apiKey, $1.key.version) }.map {
                ([("request", requestName($0.key.apiKey)), ("version", String($0.key.version))], Int64($0.value))
            }
        }
        // A deleted topic's counters leave with it, as Kafka removes its topic metrics.
        let liveTopics = counted.topics.filter { broker.topics.topic(named: $0.key) != nil }.sorted { $0.key < $1.key }
        func perTopic(_ value: (MetricsSnapshot.TopicTraffic) -> Int) -> [(labels: Labels, value: Int64)] {
            liveTopics.map { ([("topic", $0.key)], Int64(value($0.value))) }
        }
        func perListener(_ counts: (Int) -> Int) -> [(labels: Labels, value: Int64)] {
            broker.configuration.listeners.indices.map { ([("listener", broker.configuration.listeners[$0].name)], Int64(counts($0))) }
        }
        family(
            "swiftlet_broker_info", "gauge", "The broker's identity.",
            [([("cluster_id", broker.clusterId), ("node_id", String(broker.configuration.nodeId))], 1)])
        let partitions = broker.logs.allPartitions.compactMap { name in broker.logs.partition(name).map { (name, $0) } }
        func perPartition(_ value: (PartitionLog) -> Int64) -> [(labels: Labels, value: Int64)] {
            partitions.map { ([("topic", $0.0.topic), ("partition", String($0.0.partition))], value($0.1)) }
        }
        family("swiftlet_topics", "gauge", "Topics, internal ones included.", [([], Int64(broker.topics.all.count))])
        family("swiftlet_partitions", "gauge", "Partitions on this broker.", [([], Int64(partitions.count))])
        family("kafka_log_log_end_offset", "gauge", "The offset the next record gets.", perPartition(\.logEndOffset))
        family("kafka_log_log_start_offset", "gauge", "The first offset kept.", perPartition(\.logStartOffset))
        family("kafka_partition_high_watermark", "gauge", "The offset consumers may read up to.", perPartition(\.highWatermark))
        family(
            "kafka_partition_last_stable_offset", "gauge", "The first offset of an open transaction, else the high watermark.",
            perPartition(\.lastStableOffset))
        family("kafka_log_size_bytes", "gauge", "Bytes of the partition's segments.", perPartition(\.sizeInBytes))
        family("kafka_log_segments", "gauge", "Segments of the partition.", perPartition { Int64($0.segmentCount) })
        var groupStates: [(labels: Labels, value: Int64)] = []
        var groupMembers: [(labels: Labels, value: Int64)] = []
        var lag: [(labels: Labels, value: Int64)] = []
        for group in broker.groups.listGroups(states: [], types: []) {
            groupStates.append(([("group", group.groupId), ("state", group.state)], 1))
            groupMembers.append(([("group", group.groupId)], Int64(broker.groups.memberCount(of: group))))
            let (_, offsets) = broker.groups.fetchOffsets(groupId: group.groupId, partitions: nil, memberId: nil, memberEpoch: -1)
            for (partition, committed) in offsets.sorted(by: { $0.key < $1.key }) {
                guard let log = broker.logs.partition(partition) else { continue }
                lag.append(
                    (
                        [("group", group.groupId), ("topic", partition.topic), ("partition", String(partition.partition))],
                        max(0, log.highWatermark - committed.offset)
                    ))
            }
        }
        family("kafka_consumergroup_state", "gauge", "1 for the group's state.", groupStates)
        family("kafka_consumergroup_members", "gauge", "Members of the group.", groupMembers)
        family("kafka_consumergroup_lag", "gauge", "The high watermark less the group's committed offset.", lag)
        family(
            "kafka_transactions_open", "gauge", "Transactions begun and not yet completed.",
            [([], Int64(broker.transactions.openTransactions().count))])
        for (name, samples) in telemetryFamilies(broker.telemetry.latest(now: System.wallClockMilliseconds())) {
            output += "# HELP \(name) A client's metric, as it last pushed it (KIP-714).\n# TYPE \(name) gauge\n"
            for sample in samples { output += "\(name)\(labelText(sample.labels)) \(number(sample.value))\n" }
        }
        family("kafka_server_fetch_sessions", "gauge", "Incremental fetch sessions cached.", [([], Int64(broker.fetchSessions.count))])
        guard broker.metrics.enabled else { return output }
        family(
            "kafka_network_requests_total", "counter", "Requests received, by API and version.", perRequest(counted.requests))
        family(
            "kafka_network_failed_requests_total", "counter", "Responses carrying an error code, by API and version.",
            perRequest(counted.failedRequests))
        family(
            "kafka_network_request_errors_total", "counter", "Error codes in responses, each place one appears (Kafka's ErrorsPerSec).",
            counted.errors.sorted { ($0.key.apiKey, $0.key.errorCode) < ($1.key.apiKey, $1.key.errorCode) }.map {
                (
                    [
                        ("request", requestName($0.key.apiKey)),
                        ("error", ErrorCode(rawValue: $0.key.errorCode)?.kafkaName ?? String($0.key.errorCode)),
                    ],
                    Int64($0.value)
                )
            })
        histograms(
            "kafka_network_request_queue_time_seconds", "From the request read to its handler's start (the admin thread's queue included).",
            \.queue)
        histograms(
            "kafka_network_request_handler_time_seconds", "From the handler's start to its response (a parked fetch's wait included).",
            \.handler)
        histograms("kafka_network_response_send_time_seconds", "From the response to its last byte written.", \.send)
        family(
            "kafka_server_brokertopicmetrics_messages_in_total", "counter", "Records appended by producers.", perTopic(\.messagesIn))
        family("kafka_server_brokertopicmetrics_bytes_in_total", "counter", "Batch bytes appended by producers.", perTopic(\.bytesIn))
        family(
            "kafka_server_brokertopicmetrics_messages_out_total", "counter",
            "Records sent to consumers, counted by the offsets of the whole batches past each fetch offset.", perTopic(\.messagesOut))
        family(
            "kafka_server_brokertopicmetrics_bytes_out_total", "counter", "Record bytes sent to consumers (replication left out).",
            perTopic(\.bytesOut))
        family(
            "kafka_server_brokertopicmetrics_failed_produce_requests_total", "counter", "Partitions of produce requests refused.",
            perTopic(\.failedProduceRequests))
        family(
            "kafka_server_brokertopicmetrics_failed_fetch_requests_total", "counter",
            "Partitions of fetch requests answered with an error.",
            perTopic(\.failedFetchRequests))
        family(
            "kafka_server_socket_server_connections", "gauge", "Open client connections, by listener.",
            perListener { (counted.connectionsCreated[$0] ?? 0) - (counted.connectionsClosed[$0] ?? 0) })
        family(
            "kafka_server_socket_server_connection_creation_total", "counter", "Client connections accepted, by listener.",
            perListener { counted.connectionsCreated[$0] ?? 0 })
        family("swiftlet_fetches_parked", "gauge", "Fetches waiting for data or their max_wait_ms.", [([], Int64(counted.parkedFetches))])
        family(
            "swiftlet_backpressure_bytes", "gauge", "Response bytes queued for slow readers, and request bytes held until answered.",
            [
                ([("kind", "responses")], Int64(counted.queuedResponseBytes)),
                ([("kind", "requests")], Int64(broker.metrics.heldRequestBytes)),
            ])
        return output
    }

    /// The clients' latest pushes as gauges: one family per metric name (`clients_` and the
    /// name, as the convention proposed for Kafka's exporters), a series per instance and
    /// data point, labelled with the instance and the point's attributes. What a client
    /// names cannot break the scrape: names are made legal, and a label or series that
    /// repeats is kept once.
    static func telemetryFamilies(_ instances: [(id: Uuid, instance: ClientTelemetry.Instance)])
        -> [(name: String, samples: [(labels: Labels, value: Double)])]
    {
        var families: [String: [(labels: Labels, value: Double)]] = [:]
        var seen: Set<String> = []
        for (id, instance) in instances {
            let identity = [
                ("client_instance_id", id.description), ("client_id", instance.clientId),
                ("client_software_name", instance.softwareName), ("client_software_version", instance.softwareVersion),
            ]
            for series in instance.series {
                var labels = identity
                for (key, value) in series.attributes {
                    let name = labelName(key)
                    if !labels.contains(where: { $0.0 == name }) { labels.append((name, value)) }
                }
                let family = "clients_" + labelName(series.name)
                guard seen.insert(family + labelText(labels)).inserted else { continue }
                families[family, default: []].append((labels, series.value))
            }
        }
        return families.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// A legal Prometheus label name: letters, digits and underscores, not starting with a
    /// digit nor with the reserved "__".
    static func labelName(_ text: String) -> String {
        var name = String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { scalar in
                    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? scalar : "_"
                }))
        if name.isEmpty || name.first!.isNumber { name = "_" + name }
        while name.hasPrefix("__") { name.removeFirst() }
        return name
    }

    /// A sample value as Prometheus writes floats (+Inf, -Inf, NaN).
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return String(value)
    }

    static func labelText(_ labels: Labels) -> String {
        labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// A label value: backslash, quote and newline escaped as the format says; other control
    /// characters (a carriage return a client sent) become spaces, so a line stays one line.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: escaped += " "
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
