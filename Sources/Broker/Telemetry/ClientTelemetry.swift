// KIP-714 client telemetry: each client instance's subscription (its standard metrics, every
// telemetry.push.interval.ms) and the latest values it pushed, for /metrics and the console.
// The rules are Kafka's ClientMetricsManager's: a push too early is throttled, one for an old
// subscription is UNKNOWN_SUBSCRIPTION_ID, nothing is taken after a terminating push.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import Synchronization

final class ClientTelemetry: Sendable {
    /// The prefix of every standard client metric: what Swiftlet subscribes clients to.
    static let requestedMetrics = ["org.apache.kafka."]
    /// Kafka's preference: zstd, lz4, gzip, snappy (CompressionType ids).
    static let acceptedCompressionTypes: [Int8] = [4, 3, 1, 2]
    /// Client instances tracked at most (Kafka's cache holds 16384); the least recently seen
    /// goes first.
    static let maximumInstances = 16_384
    /// What a push may inflate to.
    static let maximumDecompressedBytes = 8 * 1024 * 1024

    struct Instance: Sendable {
        var subscriptionId: Int32
        var lastGetMilliseconds: Int64 = 0
        var lastPushMilliseconds: Int64 = 0
        var lastSeenMilliseconds: Int64
        var lastError: ErrorCode = .none
        var terminating = false
        var clientId: String
        var softwareName: String
        var softwareVersion: String
        /// The latest push's series and resource attributes, and when it came (0: none yet).
        var series: [TelemetrySeries] = []
        var resource: [(String, String)] = []
        var lastAcceptedPushMilliseconds: Int64 = 0
    }

    let pushIntervalMilliseconds: Int32
    let maximumBytes: Int32
    private let instances = Mutex<[Uuid: Instance]>([:])

    init(pushIntervalMilliseconds: Int32, maximumBytes: Int32) {
        self.pushIntervalMilliseconds = pushIntervalMilliseconds
        self.maximumBytes = maximumBytes
    }

    /// Deterministic for a client and the subscription (Kafka: CRC32C of the metrics and
    /// interval, XORed with the id's hash), so it changes when the configuration does.
    func subscriptionId(for id: Uuid) -> Int32 {
        let text = "[\(Self.requestedMetrics.joined(separator: ", "))]\(pushIntervalMilliseconds)"
        let checksum = Int32(bitPattern: CRC32C.checksum(Array(text.utf8)))
        let mixed = id.mostSignificantBits ^ id.leastSignificantBits
        return checksum ^ Int32(truncatingIfNeeded: mixed >> 32) ^ Int32(truncatingIfNeeded: mixed)
    }

    /// GetTelemetrySubscriptions: the instance's id (a new one for a zero id) and error.
    func subscribe(clientInstanceId: Uuid, clientId: String, softwareName: String, softwareVersion: String, now: Int64)
        -> (id: Uuid, subscriptionId: Int32, error: ErrorCode)
    {
        instances.withLock { instances in
            var id = clientInstanceId
            while id == .zero || id == Self.reserved { id = Uuid.random() }
            var instance =
                instances[id]
                ?? Instance(
                    subscriptionId: subscriptionId(for: id), lastSeenMilliseconds: now, clientId: clientId, softwareName: softwareName,
                    softwareVersion: softwareVersion)
            instance.lastSeenMilliseconds = now
            // Too soon after the last Get or push is throttled, unless the client was told to
            // ask again at once.
            let last = max(instance.lastGetMilliseconds, instance.lastPushMilliseconds)
            if last > 0 && now - last < Int64(pushIntervalMilliseconds)
                && ![.unknownSubscriptionId, .unsupportedCompressionType].contains(instance.lastError)
            {
                instances[id] = instance
                return (id, instance.subscriptionId, .throttlingQuotaExceeded)
            }
            instance.lastGetMilliseconds = now
            instance.lastError = .none
            Self.admit(id, instance, into: &instances, now: now, idle: idleMilliseconds)
            return (id, instance.subscriptionId, .none)
        }
    }

    /// PushTelemetry: Kafka's checks in Kafka's order, then the payload decoded.
    func push(
        clientInstanceId: Uuid, subscriptionId: Int32, terminating: Bool, compressionType: Int8, metrics: [UInt8]?, now: Int64
    ) -> ErrorCode {
        guard clientInstanceId != .zero, clientInstanceId != Self.reserved else { return .invalidRequest }
        return instances.withLock { instances in
            guard var instance = instances[clientInstanceId] else { return .unknownSubscriptionId }
            let error = check(
                &instance, subscriptionId: subscriptionId, terminating: terminating, compressionType: compressionType, metrics: metrics,
                now: now)
            // Kept even when the push is refused: nothing is taken after a terminating one.
            instance.terminating = instance.terminating || terminating
            instance.lastError = error
            instance.lastSeenMilliseconds = now
            instances[clientInstanceId] = instance
            return error
        }
    }

    private func check(
        _ instance: inout Instance, subscriptionId: Int32, terminating: Bool, compressionType: Int8, metrics: [UInt8]?, now: Int64
    ) -> ErrorCode {
        if instance.terminating { return .invalidRequest }
        // The first push after a Get comes at a jittered time; later ones a full interval apart.
        if !terminating && instance.lastGetMilliseconds <= instance.lastPushMilliseconds
            && now - instance.lastPushMilliseconds < Int64(pushIntervalMilliseconds)
        {
            return .throttlingQuotaExceeded
        }
        guard subscriptionId == instance.subscriptionId else { return .unknownSubscriptionId }
        guard (0...4).contains(compressionType) else { return .unsupportedCompressionType }
        let payload = metrics ?? []
        guard payload.count <= Int(maximumBytes) else { return .telemetryTooLarge }
        instance.lastPushMilliseconds = now
        guard !payload.isEmpty else { return .none }
        let decompressed: [UInt8]
        do {
            decompressed =
                compressionType == 0
                ? payload
                : try Compression.decompress(
                    payload[...], codec: CompressionCodec(rawValue: Int16(compressionType))!, limit: Self.maximumDecompressedBytes)
        } catch {
            return .invalidRecord
        }
        guard let decoded = try? OTLPMetrics.decode(decompressed) else { return .invalidRecord }
        instance.series = decoded.series
        instance.resource = decoded.resource
        instance.lastAcceptedPushMilliseconds = now
        return .none
    }

    /// Instances idle for max(60 s, 3 intervals) are forgotten, as Kafka's cache expires them.
    private var idleMilliseconds: Int64 { max(60_000, 3 * Int64(pushIntervalMilliseconds)) }

    private static func admit(_ id: Uuid, _ instance: Instance, into instances: inout [Uuid: Instance], now: Int64, idle: Int64) {
        if instances[id] == nil && instances.count >= maximumInstances {
            instances = instances.filter { now - $0.value.lastSeenMilliseconds < idle }
            if instances.count >= maximumInstances,
                let oldest = instances.min(by: { $0.value.lastSeenMilliseconds < $1.value.lastSeenMilliseconds })
            {
                instances[oldest.key] = nil
            }
        }
        instances[id] = instance
    }

    /// Kafka's Uuid.ONE_UUID, reserved.
    static let reserved = Uuid(mostSignificantBits: 0, leastSignificantBits: 1)

    /// The instances that pushed metrics, not idle, by id.
    func latest(now: Int64) -> [(id: Uuid, instance: Instance)] {
        instances.withLock { instances in
            instances.filter { $0.value.lastAcceptedPushMilliseconds > 0 && now - $0.value.lastSeenMilliseconds < idleMilliseconds }
                .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }
}

extension ClientTelemetry {
    /// Prometheus' name for a client metric: `clients_` and the name with what Prometheus
    /// does not allow turned into underscores (the convention proposed for Kafka exporters).
    static func prometheusName(_ name: String) -> String {
        "clients_"
            + String(
                name.unicodeScalars.map { scalar -> Character in
                    ("0"..."9").contains(scalar) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
                        ? Character(scalar) : "_"
                })
    }

    /// The latest values of every instance, as Prometheus families (one gauge per metric
    /// name, a series per instance and data point).
    func exposition(now: Int64) -> [(name: String, samples: [(labels: [(String, String)], value: Double)])] {
        var families: [String: [(labels: [(String, String)], value: Double)]] = [:]
        for (id, instance) in latest(now: now) {
            let identity = [
                ("client_instance_id", id.description), ("client_id", instance.clientId),
                ("client_software_name", instance.softwareName), ("client_software_version", instance.softwareVersion),
            ]
            for series in instance.series {
                let attributes = series.attributes.map { (Self.prometheusName($0.0).dropFirst("clients_".count).description, $0.1) }
                    .filter { key, _ in !identity.contains { $0.0 == key } }
                families[Self.prometheusName(series.name), default: []].append((identity + attributes, series.value))
            }
        }
        return families.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The console's telemetry table: each instance's latest push.
    func consoleEntries(now: Int64) -> [JSON] {
        latest(now: now).map { id, instance in
            .object([
                ("clientInstanceId", .string(id.description)), ("clientId", .string(instance.clientId)),
                ("softwareName", .string(instance.softwareName)), ("softwareVersion", .string(instance.softwareVersion)),
                ("lastPushMs", .number(instance.lastAcceptedPushMilliseconds)),
                (
                    "metrics",
                    .array(
                        instance.series.map { series in
                            .object([
                                ("name", .string(series.name)), ("value", .double(series.value)),
                                ("attributes", .object(series.attributes.map { ($0.0, .string($0.1)) })),
                            ])
                        })
                ),
            ])
        }
    }
}
