// Client quotas as Kafka keeps and applies them (KIP-55, KIP-219, KIP-546): values per
// entity (a user, a client id, both, or an IP; each possibly the default one), kept in
// quotas.json; the byte-rate quotas measured over Kafka's 11 one-second windows, and a client
// over its quota told how long to back off (throttle_time_ms) while its connection is muted.

import FoundationEssentials
import Synchronization
import SystemCalls

/// One quota entity: entity type ("user", "client-id", "ip") to name, nil for the default.
struct QuotaEntity: Hashable, Codable, Sendable {
    var parts: [String: String?]

    static let user = "user"
    static let clientId = "client-id"
    static let ip = "ip"
}

final class ClientQuotas: Sendable {
    /// The quota keys Kafka serves, by the entity types they apply to.
    static let userOrClientKeys: Set<String> = [
        "producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate",
    ]
    static let ipKeys: Set<String> = ["connection_creation_rate"]

    private struct Stored: Codable {
        var entity: [String: String?]
        var values: [String: Double]
    }

    let document: SharedDocument
    private let quotas: Mutex<[QuotaEntity: [String: Double]]>
    private let writeLock = Lock()
    /// Byte rates by resolved entity and key.
    private let meters = Mutex<[String: RateMeter]>([:])
    /// controller_mutation_rate's buckets, by resolved entity.
    private let mutationBuckets = Mutex<[String: TokenBucket]>([:])

    convenience init(dataDirectory: String?) throws {
        try self.init(document: SharedDocument(dataDirectory.map { .file(path: $0 + "/" + Self.fileName) } ?? .memory))
    }

    init(document: SharedDocument) throws {
        self.document = document
        let loaded = try Self.decode(document.bytes)
        quotas = Mutex(loaded)
        hasQuotas.store(!loaded.isEmpty, ordering: .relaxed)
    }

    static let fileName = "quotas.json"

    private static func decode(_ bytes: [UInt8]?) throws -> [QuotaEntity: [String: Double]] {
        var loaded: [QuotaEntity: [String: Double]] = [:]
        for stored in try bytes.map({ try JSONDecoder().decode([Stored].self, from: Data($0)) }) ?? [] {
            loaded[QuotaEntity(parts: stored.entity)] = stored.values
        }
        return loaded
    }

    /// Reads the document again: another broker of the cluster changed it.
    func reload() throws {
        try writeLock.withLock {
            let loaded = try Self.decode(document.reread())
            quotas.withLock { $0 = loaded }
            hasQuotas.store(!loaded.isEmpty, ordering: .relaxed)
        }
    }

    var all: [QuotaEntity: [String: Double]] { quotas.withLock { $0 } }

    /// No quota at all: what the request path checks first, without a lock.
    var isEmpty: Bool { !hasQuotas.load(ordering: .relaxed) }
    private let hasQuotas = Atomic(false)

    /// The user entity a principal's quotas are looked up by: "User:alice" is alice.
    static func user(of principal: String) -> String {
        principal.hasPrefix("User:") ? String(principal.dropFirst(5)) : principal
    }

    /// Why an alteration of `entity` with these keys is refused (Kafka's messages); nil if it is fine.
    static func problem(entity: QuotaEntity, keys: [String], values: [Double]) -> String? {
        let types = Set(entity.parts.keys)
        guard !types.isEmpty, types.isSubset(of: [QuotaEntity.user, QuotaEntity.clientId, QuotaEntity.ip]) else {
            return "Invalid empty or unknown entity type \(entity.parts.keys.sorted().joined(separator: ","))"
        }
        if types.contains(QuotaEntity.ip) && types.count > 1 {
            return "Invalid quota entity combination, IP entity should not be combined with User or ClientId"
        }
        let allowed = types == [QuotaEntity.ip] ? ipKeys : userOrClientKeys
        if let unknown = keys.first(where: { !allowed.contains($0) }) { return "Invalid configuration key \(unknown)" }
        if values.contains(where: { $0 <= 0 || !$0.isFinite }) { return "Quota values must be positive" }
        return nil
    }

    /// Applies set (value) and remove (nil) operations to entities, in one write.
    func alter(_ changes: [(QuotaEntity, [(key: String, value: Double?)])]) throws {
        try writeLock.withLock {
            var next: [QuotaEntity: [String: Double]] = [:]
            _ = try document.update { bytes in
                next = try Self.decode(bytes)
                for (entity, operations) in changes {
                    var values = next[entity] ?? [:]
                    for operation in operations { values[operation.key] = operation.value }
                    next[entity] = values.isEmpty ? nil : values
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let stored = next.map { Stored(entity: $0.key.parts, values: $0.value) }
                    .sorted { "\($0.entity.sorted { $0.key < $1.key })" < "\($1.entity.sorted { $0.key < $1.key })" }
                return Array(try encoder.encode(stored))
            }
            quotas.withLock { $0 = next }
            hasQuotas.store(!next.isEmpty, ordering: .relaxed)
        }
    }

    /// The quota that applies to a user and client id, in Kafka's order of precedence:
    /// user and client id, user and default client, user, default user and client id, default
    /// user and default client, default user, client id, default client.
    func quota(user: String, clientId: String, key: String) -> (limit: Double, entity: String)? {
        guard !isEmpty else { return nil }
        let table = quotas.withLock { $0 }
        let u = QuotaEntity.user
        let c = QuotaEntity.clientId
        let candidates: [[String: String?]] = [
            [u: user, c: clientId], [u: user, c: nil], [u: user], [u: nil, c: clientId], [u: nil, c: nil], [u: nil], [c: clientId],
            [c: nil],
        ]
        for candidate in candidates {
            if let limit = table[QuotaEntity(parts: candidate)]?[key] {
                let name = candidate.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value ?? "<default>")" }.joined(separator: ",")
                // The meter is per client: a default quota is each user's or client's own.
                return (limit, name + "|" + user + "|" + clientId)
            }
        }
        return nil
    }

    /// Counts a new connection from `ip` against its connection_creation_rate (the IP's own
    /// quota, else the default IP's); true when it is over, and the connection is refused.
    func recordConnection(ip: String, now: Int64) -> Bool {
        guard !isEmpty else { return false }
        let table = quotas.withLock { $0 }
        guard
            let limit = table[QuotaEntity(parts: [QuotaEntity.ip: ip])]?["connection_creation_rate"]
                ?? table[QuotaEntity(parts: [QuotaEntity.ip: nil])]?["connection_creation_rate"]
        else { return false }
        return meters.withLock { meters in
            let meterKey = "connection_creation_rate|" + ip
            if meters.count >= 10_000 && meters[meterKey] == nil { meters.removeAll() }
            var meter = meters[meterKey] ?? RateMeter()
            let rate = meter.record(1, now: now)
            meters[meterKey] = meter
            return rate > limit
        }
    }

    /// Records a request's handling time against request_percentage (a percentage of one
    /// thread's time over the window) and returns the throttle time, as for byte rates.
    func recordRequestTime(milliseconds: Double, user: String, clientId: String, now: Int64) -> Int32 {
        // 1 ms of a thread is 0.1 percent-seconds: the meter's rate is then a percentage.
        record(amount: milliseconds / 10, user: user, clientId: clientId, key: "request_percentage", now: now)
    }

    /// controller_mutation_rate (KIP-599): `partitions` created or deleted against a token
    /// bucket of the quota's rate that holds 11 s of it. Strict (the API versions that know
    /// THROTTLING_QUOTA_EXCEEDED): refused while the bucket is in debt, admitted otherwise even
    /// into debt. Permissive (older versions): always admitted, with the time the debt takes
    /// to repay as the throttle.
    func recordMutations(_ partitions: Int, user: String, clientId: String, strict: Bool, now: Int64) -> (
        admitted: Bool, throttleMilliseconds: Int32
    ) {
        guard let (limit, entity) = quota(user: user, clientId: clientId, key: "controller_mutation_rate") else { return (true, 0) }
        return mutationBuckets.withLock { buckets in
            if buckets.count >= 10_000 && buckets[entity] == nil { buckets.removeAll() }
            var bucket = buckets[entity] ?? TokenBucket(rate: limit, now: now)
            defer { buckets[entity] = bucket }
            bucket.refill(rate: limit, now: now)
            if strict && bucket.tokens < 0 { return (false, bucket.repayMilliseconds(rate: limit)) }
            bucket.tokens -= Double(partitions)
            return (true, strict ? 0 : bucket.repayMilliseconds(rate: limit))
        }
    }

    /// Records `bytes` against the quota on `key` that applies, and returns how long the
    /// client must back off (0 when within its quota, or when no quota applies).
    func record(bytes: Int, user: String, clientId: String, key: String, now: Int64) -> Int32 {
        record(amount: Double(bytes), user: user, clientId: clientId, key: key, now: now)
    }

    private func record(amount: Double, user: String, clientId: String, key: String, now: Int64) -> Int32 {
        guard let (limit, entity) = quota(user: user, clientId: clientId, key: key) else { return 0 }
        return meters.withLock { meters in
            let meterKey = key + "|" + entity
            // A client inventing ids cannot grow this without bound: past the cap the meters
            // start over (at worst a throttle comes a window late).
            if meters.count >= 10_000 && meters[meterKey] == nil { meters.removeAll() }
            var meter = meters[meterKey] ?? RateMeter()
            let rate = meter.record(amount, now: now)
            meters[meterKey] = meter
            guard rate > limit else { return 0 }
            // Kafka's ClientQuotaManager: how long the window must stretch for the rate to
            // come down to the quota, at most the whole window.
            let throttle = (rate - limit) / limit * Double(meter.windowMilliseconds(now: now))
            return Int32(min(throttle, Double(Int64(RateMeter.samples) * RateMeter.sampleMilliseconds)))
        }
    }
}

/// A rate over Kafka's quota window: quota.window.num (11) samples of
/// quota.window.size.seconds (1 s); the rate is their sum over the time they cover.
struct RateMeter: Sendable {
    static let samples = 11
    static let sampleMilliseconds: Int64 = 1_000
    private var totals: [Int64: Double] = [:]  // by sample start
    private var first: Int64?

    mutating func record(_ amount: Double, now: Int64) -> Double {
        let start = now - now % Self.sampleMilliseconds
        totals[start, default: 0] += amount
        let oldest = start - Int64(Self.samples - 1) * Self.sampleMilliseconds
        totals = totals.filter { $0.key >= oldest }
        if first == nil { first = now }
        return totals.values.reduce(0, +) / (Double(windowMilliseconds(now: now)) / 1_000)
    }

    /// The time the samples cover: from the oldest kept (or the first record) to now, and
    /// at least one sample's worth, as Kafka's Rate measures it.
    func windowMilliseconds(now: Int64) -> Int64 {
        let oldestKept = totals.keys.min() ?? now
        let span = now - max(oldestKept, first ?? oldestKept)
        return max(span, (Int64(Self.samples) - 1) * Self.sampleMilliseconds)
    }
}

/// Kafka's TokenBucket stat for controller mutations: it refills at the quota's rate up to
/// a burst of the whole window's worth (11 samples of 1 s), and may go into debt.
struct TokenBucket: Sendable {
    var tokens: Double
    private var updated: Int64

    init(rate: Double, now: Int64) {
        tokens = rate * Double(RateMeter.samples)
        updated = now
    }

    mutating func refill(rate: Double, now: Int64) {
        let elapsed = Double(max(0, now - updated)) / 1_000
        tokens = min(rate * Double(RateMeter.samples), tokens + elapsed * rate)
        updated = now
    }

    /// How long a debt takes to repay at `rate`; 0 without one.
    func repayMilliseconds(rate: Double) -> Int32 {
        tokens >= 0 ? 0 : Int32(min(-tokens / rate * 1_000, Double(Int32.max)))
    }
}
