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

    /// Series kept for all instances together: a client's standard metrics are a few dozen,
    /// so this bounds what many clients (or one opening many instances) can make us hold.
    static let maximumStoredSeries = 50_000

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
        /// The latest push's series, and when it came (0: none yet).
        var series: [TelemetrySeries] = []
        var lastAcceptedPushMilliseconds: Int64 = 0
    }

    private struct State {
        var instances: [Uuid: Instance] = [:]
        /// The series of all instances together (maximumStoredSeries).
        var storedSeries = 0
    }

    let pushIntervalMilliseconds: Int32
    let maximumBytes: Int32
    private let state = Mutex(State())

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
        state.withLock { state in
            var id = clientInstanceId
            while id == .zero || id == Self.reserved || (clientInstanceId == .zero && state.instances[id] != nil) { id = Uuid.random() }
            var instance =
                state.instances[id]
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
                state.instances[id] = instance
                return (id, instance.subscriptionId, .throttlingQuotaExceeded)
            }
            instance.lastGetMilliseconds = now
            instance.lastError = .none
            if state.instances[id] == nil && state.instances.count >= Self.maximumInstances { evict(&state, now: now) }
            state.instances[id] = instance
            return (id, instance.subscriptionId, .none)
        }
    }

    /// PushTelemetry: Kafka's checks in Kafka's order under the lock, the payload inflated
    /// and decoded outside it, its series stored under it again.
    func push(
        clientInstanceId: Uuid, subscriptionId: Int32, terminating: Bool, compressionType: Int8, metrics: [UInt8]?, now: Int64
    ) -> ErrorCode {
        guard clientInstanceId != .zero, clientInstanceId != Self.reserved else { return .invalidRequest }
        let checked = state.withLock { state -> ErrorCode in
            // Kafka makes an instance for an id it does not know, whose subscription id then
            // differs: the client is told UNKNOWN_SUBSCRIPTION_ID either way, and asks again.
            guard var instance = state.instances[clientInstanceId] else { return .unknownSubscriptionId }
            let error = check(
                &instance, subscriptionId: subscriptionId, terminating: terminating, compressionType: compressionType,
                size: metrics?.count ?? 0, now: now)
            // Kept even when the push is refused: nothing is taken after a terminating one.
            instance.terminating = instance.terminating || terminating
            instance.lastError = error
            instance.lastSeenMilliseconds = now
            state.instances[clientInstanceId] = instance
            return error
        }
        guard checked == .none, let payload = metrics, !payload.isEmpty else { return checked }
        let series: [TelemetrySeries]
        do {
            let decompressed =
                compressionType == 0
                ? payload
                : try Compression.decompress(
                    payload[...], codec: CompressionCodec(rawValue: Int16(compressionType))!, limit: Self.maximumDecompressedBytes)
            series = try OTLPMetrics.decode(decompressed)
        } catch {
            state.withLock { $0.instances[clientInstanceId]?.lastError = .invalidRecord }
            return .invalidRecord
        }
        state.withLock { state in
            guard let previous = state.instances[clientInstanceId]?.series.count else { return }
            let room = max(0, Self.maximumStoredSeries - (state.storedSeries - previous))
            let kept = Array(series.prefix(room))
            state.storedSeries += kept.count - previous
            state.instances[clientInstanceId]?.series = kept
            state.instances[clientInstanceId]?.lastAcceptedPushMilliseconds = now
        }
        return .none
    }

    /// Kafka's checks of a push, in Kafka's order (the payload's decoding comes after).
    private func check(
        _ instance: inout Instance, subscriptionId: Int32, terminating: Bool, compressionType: Int8, size: Int, now: Int64
    ) -> ErrorCode {
        if instance.terminating { return .invalidRequest }
        // The first push after a Get comes at a jittered time; later ones a full interval apart.
        if !terminating && instance.lastGetMilliseconds <= instance.lastPushMilliseconds
            && now - instance.lastPushMilliseconds < Int64(pushIntervalMilliseconds)
        {
            return .throttlingQuotaExceeded
        }
        // Past the time check the push counts, whatever the checks after it say (as Kafka).
        instance.lastPushMilliseconds = now
        guard subscriptionId == instance.subscriptionId else { return .unknownSubscriptionId }
        guard (0...4).contains(compressionType) else { return .unsupportedCompressionType }
        guard size <= Int(maximumBytes) else { return .telemetryTooLarge }
        return .none
    }

    /// Instances idle for max(60 s, 3 intervals) are forgotten, as Kafka's cache expires them.
    private var idleMilliseconds: Int64 { max(60_000, 3 * Int64(pushIntervalMilliseconds)) }

    /// Makes room when the cache is full: idle instances go, then the least recently seen
    /// eighth, so that a full cache is swept once per many new instances, not on each.
    private func evict(_ state: inout State, now: Int64) {
        var kept = state.instances.filter { now - $0.value.lastSeenMilliseconds < idleMilliseconds }
        if kept.count >= Self.maximumInstances {
            let oldest = kept.sorted { $0.value.lastSeenMilliseconds < $1.value.lastSeenMilliseconds }.prefix(Self.maximumInstances / 8)
            for (id, _) in oldest { kept[id] = nil }
        }
        state.instances = kept
        state.storedSeries = kept.values.reduce(0) { $0 + $1.series.count }
    }

    /// Kafka's Uuid.ONE_UUID, reserved.
    static let reserved = Uuid(mostSignificantBits: 0, leastSignificantBits: 1)

    /// Instances tracked (idle ones included, until evicted).
    var instanceCount: Int { state.withLock { $0.instances.count } }

    /// The instances that pushed metrics, not idle, by id.
    func latest(now: Int64) -> [(id: Uuid, instance: Instance)] {
        state.withLock { state in
            state.instances.filter { $0.value.lastAcceptedPushMilliseconds > 0 && now - $0.value.lastSeenMilliseconds < idleMilliseconds }
                .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }
}

extension ClientTelemetry {
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
