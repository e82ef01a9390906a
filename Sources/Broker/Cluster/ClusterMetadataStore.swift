// Where a cluster's brokers find each other (metadata.store): each registers under a lease
// that its renewals keep alive, one holds the controller role by creating its key under that
// lease, and the cluster's id is the first broker's. etcd in production, a shared in-memory
// store with a clock the tests move in unit tests.

import Synchronization
import SystemCalls

/// A broker as the cluster lists it: its node id and, by listener name, where clients reach it
/// (Metadata answers each client with the endpoints of the listener it came in on).
struct BrokerRegistration: Equatable, Sendable {
    struct Endpoint: Equatable, Sendable {
        var listener: String
        var host: String
        var port: Int32
    }

    var nodeId: Int32
    var endpoints: [Endpoint]
    /// The lease it lives under, as the store read it (0 when not read from the store): what
    /// the controller revokes to fence a broker found dead.
    var lease: Int64 = 0

    func endpoint(_ listener: String) -> Endpoint? { endpoints.first { $0.listener == listener } }

    var json: JSON {
        .object([
            ("nodeId", .number(Int64(nodeId))),
            (
                "endpoints",
                .array(
                    endpoints.map {
                        .object([("listener", .string($0.listener)), ("host", .string($0.host)), ("port", .number(Int64($0.port)))])
                    })
            ),
        ])
    }

    init(nodeId: Int32, endpoints: [Endpoint]) {
        self.nodeId = nodeId
        self.endpoints = endpoints
    }

    init?(json: JSON) {
        guard let nodeId = json["nodeId"]?.integer, case .array(let list)? = json["endpoints"] else { return nil }
        self.nodeId = Int32(clamping: nodeId)
        endpoints = list.compactMap { entry in
            guard let listener = entry["listener"]?.string, let host = entry["host"]?.string, let port = entry["port"]?.integer else {
                return nil
            }
            return Endpoint(listener: listener, host: host, port: Int32(clamping: port))
        }
    }
}

enum RegistrationOutcome: Equatable, Sendable {
    /// Registered under the lease.
    case registered(lease: Int64)
    /// Another live broker has the node id.
    case nodeIdTaken(by: BrokerRegistration?)
}

protocol ClusterMetadataStore: Sendable {
    /// The cluster's id: the one stored, or `proposed` when this broker is the first.
    func clusterId(proposing proposed: String) throws -> String
    /// Registers `broker` under a new lease of `seconds`, unless its node id is taken.
    func register(_ broker: BrokerRegistration, leaseSeconds: Int) throws -> RegistrationOutcome
    /// Renews the lease; false when it has expired (the registration is gone).
    func renew(lease: Int64) throws -> Bool
    /// The registered brokers, by node id.
    func brokers() throws -> [BrokerRegistration]
    /// The controller's node id, after trying to become it under `lease` when there is none.
    func controller(claimingFor nodeId: Int32, lease: Int64) throws -> Int32
    /// Ends the registration (a clean stop): the lease and what lives under it go at once.
    func deregister(lease: Int64) throws

    /// Every topic with its partitions, read at one revision.
    func topics() throws -> [ClusterTopic]
    /// Creates the topic and its partitions unless its name is taken: false then.
    func create(_ topic: ClusterTopic) throws -> Bool
    /// Deletes the topic with this id and its partitions; false when it is gone (or another
    /// topic of the same name took its place).
    func delete(_ topic: ClusterTopic) throws -> Bool
    /// Replaces the topic's key (its configs), or adds partitions after its last, only if the
    /// store still holds `current` as the topic: false when it changed meanwhile.
    func update(_ current: ClusterTopic, to updated: ClusterTopic) throws -> Bool
    /// A block of `count` producer ids no other broker has: its first id.
    func allocateProducerIds(count: Int64) throws -> Int64
    /// Replaces a partition's state (its ISR, or its leader after an election) only if the
    /// store still holds `current`: Kafka's AlterPartition, false when it changed meanwhile.
    func update(_ topic: String, partition: Int, from current: PartitionState, to updated: PartitionState) throws -> Bool

    /// Blocks, calling `changed` after each change under the cluster's keys, until `stop()` is
    /// true; throws when the store cannot be watched (the caller watches again after a pause,
    /// and its periodic reads cover the gap).
    func watch(until stop: () -> Bool, _ changed: () -> Void) throws

    /// The cluster-wide documents (SharedDocument: the ACLs, the client quotas, the SCRAM
    /// credentials), by name, read at one revision; one never written is absent.
    func documents() throws -> [String: [UInt8]]
    /// Replaces the document `name` only if the store still holds `current` (nil: it has never
    /// been written): false when another broker changed it meanwhile.
    func replaceDocument(_ name: String, holding current: [UInt8]?, with updated: [UInt8]) throws -> Bool
}

/// The keys under `prefix` (metadata.store.prefix): `brokers/<node id>` (JSON, under the
/// broker's lease), `controller` (its node id, under its lease), `cluster_id`, and for each
/// topic `topics/<name>` (id and configs) with `topics/<name>/<partition>` (its state); topic
/// names have no "/", so one prefix read gives every topic at one revision; `documents/<name>`
/// for each cluster-wide document.
struct EtcdMetadataStore: ClusterMetadataStore {
    let client: EtcdClient
    let prefix: String

    func clusterId(proposing proposed: String) throws -> String {
        let outcome = try client.create(prefix + "/cluster_id", Array(proposed.utf8), lease: 0)
        return outcome.created ? proposed : String(decoding: outcome.existing ?? [], as: UTF8.self)
    }

    func register(_ broker: BrokerRegistration, leaseSeconds: Int) throws -> RegistrationOutcome {
        let lease = try client.grantLease(seconds: leaseSeconds)
        let outcome = try client.create(prefix + "/brokers/\(broker.nodeId)", Array(broker.json.text.utf8), lease: lease)
        guard outcome.created else {
            try? client.revoke(lease: lease)
            return .nodeIdTaken(by: outcome.existing.flatMap(JSON.parse).flatMap(BrokerRegistration.init(json:)))
        }
        return .registered(lease: lease)
    }

    func renew(lease: Int64) throws -> Bool { try client.keepAlive(lease: lease) > 0 }

    func brokers() throws -> [BrokerRegistration] {
        try client.prefix(prefix + "/brokers/").compactMap { entry in
            JSON.parse(entry.value).flatMap(BrokerRegistration.init(json:)).map { registration in
                var registration = registration
                registration.lease = entry.lease
                return registration
            }
        }
        .sorted { $0.nodeId < $1.nodeId }
    }

    func controller(claimingFor nodeId: Int32, lease: Int64) throws -> Int32 {
        let outcome = try client.create(prefix + "/controller", Array(String(nodeId).utf8), lease: lease)
        if outcome.created { return nodeId }
        return Int32(String(decoding: outcome.existing ?? [], as: UTF8.self)) ?? -1
    }

    func deregister(lease: Int64) throws { try client.revoke(lease: lease) }

    private func topicKey(_ name: String) -> String { prefix + "/topics/" + name }
    private func partitionKey(_ name: String, _ index: Int) -> String { topicKey(name) + "/\(index)" }

    func topics() throws -> [ClusterTopic] {
        var topicValues: [String: JSON] = [:]
        var partitions: [String: [Int: PartitionState]] = [:]
        let root = topicKey("")
        for entry in try client.prefix(root) {
            let path = entry.key.dropFirst(root.count).split(separator: "/", omittingEmptySubsequences: false)
            guard let json = JSON.parse(entry.value) else { continue }
            if path.count == 1 {
                topicValues[String(path[0])] = json
            } else if path.count == 2, let index = Int(path[1]), let state = PartitionState(json: json) {
                partitions[String(path[0]), default: [:]][index] = state
            }
        }
        return topicValues.compactMap { name, json in
            let states = partitions[name] ?? [:]
            // Partitions 0..<n, all present: a topic is created, and extended, in one transaction.
            let ordered = (0..<states.count).compactMap { states[$0] }
            return ClusterTopic(name: name, json: json, partitions: ordered)
        }.sorted { $0.name < $1.name }
    }

    func create(_ topic: ClusterTopic) throws -> Bool {
        let puts: [EtcdClient.Operation] =
            [.put(topicKey(topic.name), Array(topic.json.text.utf8), lease: 0)]
            + topic.partitions.enumerated().map { .put(partitionKey(topic.name, $0), Array($1.json.text.utf8), lease: 0) }
        return try client.transaction([.absent(topicKey(topic.name))], then: puts).succeeded
    }

    func delete(_ topic: ClusterTopic) throws -> Bool {
        let key = topicKey(topic.name)
        return try client.transaction(
            [.holds(key, Array(topic.json.text.utf8))],
            then: [.delete(key, end: nil), .delete(key + "/", end: EtcdClient.prefixEnd(key + "/"))]
        ).succeeded
    }

    func update(_ topic: String, partition: Int, from current: PartitionState, to updated: PartitionState) throws -> Bool {
        let key = partitionKey(topic, partition)
        return try client.transaction(
            [.holds(key, Array(current.json.text.utf8))], then: [.put(key, Array(updated.json.text.utf8), lease: 0)]
        ).succeeded
    }

    /// `producer_ids` holds the end of the last block handed out.
    func allocateProducerIds(count: Int64) throws -> Int64 {
        let key = prefix + "/producer_ids"
        for _ in 0..<10 {
            let stored = try client.range(key).first.map { String(decoding: $0.value, as: UTF8.self) }
            let start = stored.flatMap { Int64($0) } ?? 0
            let condition: EtcdClient.Condition = stored.map { .holds(key, Array($0.utf8)) } ?? .absent(key)
            if try client.transaction([condition], then: [.put(key, Array(String(start + count).utf8), lease: 0)]).succeeded {
                return start
            }
        }
        throw EtcdError("producer id blocks: too many brokers asking at once")
    }

    private var documentsKey: String { prefix + "/documents/" }

    func watch(until stop: () -> Bool, _ changed: () -> Void) throws {
        try client.watch(prefix: prefix + "/", stop: stop, changed: changed)
    }

    func documents() throws -> [String: [UInt8]] {
        let root = documentsKey
        return Dictionary(try client.prefix(root).map { (String($0.key.dropFirst(root.count)), $0.value) }, uniquingKeysWith: { $1 })
    }

    func replaceDocument(_ name: String, holding current: [UInt8]?, with updated: [UInt8]) throws -> Bool {
        let key = documentsKey + name
        return try client.transaction([current.map { .holds(key, $0) } ?? .absent(key)], then: [.put(key, updated, lease: 0)])
            .succeeded
    }

    func update(_ current: ClusterTopic, to updated: ClusterTopic) throws -> Bool {
        let key = topicKey(current.name)
        let added = updated.partitions.indices.dropFirst(current.partitions.count)
        return try client.transaction(
            [.holds(key, Array(current.json.text.utf8))] + added.map { .absent(partitionKey(current.name, $0)) },
            then: [.put(key, Array(updated.json.text.utf8), lease: 0)]
                + added.map { .put(partitionKey(current.name, $0), Array(updated.partitions[$0].json.text.utf8), lease: 0) }
        ).succeeded
    }
}

/// The same contract in memory, for unit tests: brokers in one process share it, and leases
/// expire when the test's clock passes them.
final class InMemoryMetadataStore: ClusterMetadataStore {
    private struct State {
        var clusterId: String?
        var leases: [Int64: Int64] = [:]  // id: expiry (ms)
        var leaseSeconds: [Int64: Int] = [:]
        var brokers: [Int32: (BrokerRegistration, lease: Int64)] = [:]
        var controller: (nodeId: Int32, lease: Int64)?
        var nextLease: Int64 = 1
        var topics: [String: ClusterTopic] = [:]
        var producerIdsEnd: Int64 = 0
        var documents: [String: [UInt8]] = [:]
    }

    private let state = Mutex(State())
    let clock: @Sendable () -> Int64

    init(clock: @escaping @Sendable () -> Int64) { self.clock = clock }

    /// Drops what lives under expired leases, as etcd does.
    private static func expire(_ state: inout State, now: Int64) {
        for (lease, expiry) in state.leases where expiry <= now { drop(lease, from: &state) }
    }

    private static func drop(_ lease: Int64, from state: inout State) {
        state.leases[lease] = nil
        state.brokers = state.brokers.filter { $0.value.lease != lease }
        if state.controller?.lease == lease { state.controller = nil }
    }

    func clusterId(proposing proposed: String) throws -> String {
        state.withLock { state in
            if state.clusterId == nil { state.clusterId = proposed }
            return state.clusterId!
        }
    }

    func register(_ broker: BrokerRegistration, leaseSeconds: Int) throws -> RegistrationOutcome {
        let now = clock()
        return state.withLock { state in
            Self.expire(&state, now: now)
            if let existing = state.brokers[broker.nodeId] { return .nodeIdTaken(by: existing.0) }
            let lease = state.nextLease
            state.nextLease += 1
            state.leases[lease] = now + Int64(leaseSeconds) * 1_000
            state.leaseSeconds[lease] = leaseSeconds
            state.brokers[broker.nodeId] = (broker, lease)
            return .registered(lease: lease)
        }
    }

    func renew(lease: Int64) throws -> Bool {
        let now = clock()
        return state.withLock { state in
            Self.expire(&state, now: now)
            guard state.leases[lease] != nil, let seconds = state.leaseSeconds[lease] else { return false }
            state.leases[lease] = now + Int64(seconds) * 1_000
            return true
        }
    }

    func brokers() throws -> [BrokerRegistration] {
        let now = clock()
        return state.withLock { state in
            Self.expire(&state, now: now)
            return state.brokers.values.map { registration, lease in
                var registration = registration
                registration.lease = lease
                return registration
            }
            .sorted { $0.nodeId < $1.nodeId }
        }
    }

    func controller(claimingFor nodeId: Int32, lease: Int64) throws -> Int32 {
        let now = clock()
        return state.withLock { state in
            Self.expire(&state, now: now)
            if state.controller == nil, state.leases[lease] != nil { state.controller = (nodeId, lease) }
            return state.controller?.nodeId ?? -1
        }
    }

    func deregister(lease: Int64) throws {
        state.withLock { Self.drop(lease, from: &$0) }
    }

    func update(_ topic: String, partition: Int, from current: PartitionState, to updated: PartitionState) throws -> Bool {
        state.withLock { state in
            guard let stored = state.topics[topic], partition < stored.partitions.count, stored.partitions[partition] == current else {
                return false
            }
            state.topics[topic]!.partitions[partition] = updated
            return true
        }
    }

    func allocateProducerIds(count: Int64) throws -> Int64 {
        state.withLock { state in
            defer { state.producerIdsEnd += count }
            return state.producerIdsEnd
        }
    }

    func topics() throws -> [ClusterTopic] { state.withLock { $0.topics.values.sorted { $0.name < $1.name } } }

    func create(_ topic: ClusterTopic) throws -> Bool {
        state.withLock { state in
            guard state.topics[topic.name] == nil else { return false }
            state.topics[topic.name] = topic
            return true
        }
    }

    func delete(_ topic: ClusterTopic) throws -> Bool {
        state.withLock { state in
            guard state.topics[topic.name]?.id == topic.id else { return false }
            state.topics[topic.name] = nil
            return true
        }
    }

    func update(_ current: ClusterTopic, to updated: ClusterTopic) throws -> Bool {
        state.withLock { state in
            guard let stored = state.topics[current.name], stored.id == current.id, stored.configs == current.configs,
                stored.partitions.count == current.partitions.count
            else { return false }
            var next = updated
            next.partitions = stored.partitions + updated.partitions.dropFirst(current.partitions.count)
            state.topics[current.name] = next
            return true
        }
    }

    func documents() throws -> [String: [UInt8]] { state.withLock { $0.documents } }

    /// A change to the topics or documents, seen every 20 ms.
    func watch(until stop: () -> Bool, _ changed: () -> Void) throws {
        var seen = (try topics(), try documents())
        while !stop() {
            System.sleep(milliseconds: 20)
            let now = (try topics(), try documents())
            if now.0 != seen.0 || now.1 != seen.1 {
                seen = now
                changed()
            }
        }
    }

    func replaceDocument(_ name: String, holding current: [UInt8]?, with updated: [UInt8]) throws -> Bool {
        state.withLock { state in
            guard state.documents[name] == current else { return false }
            state.documents[name] = updated
            return true
        }
    }
}
