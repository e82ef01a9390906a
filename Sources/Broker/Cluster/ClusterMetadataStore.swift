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
}

/// The keys under `prefix` (metadata.store.prefix): `brokers/<node id>` (JSON, under the
/// broker's lease), `controller` (its node id, under its lease) and `cluster_id`.
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
        try client.prefix(prefix + "/brokers/").compactMap { JSON.parse($0.value).flatMap(BrokerRegistration.init(json:)) }
            .sorted { $0.nodeId < $1.nodeId }
    }

    func controller(claimingFor nodeId: Int32, lease: Int64) throws -> Int32 {
        let outcome = try client.create(prefix + "/controller", Array(String(nodeId).utf8), lease: lease)
        if outcome.created { return nodeId }
        return Int32(String(decoding: outcome.existing ?? [], as: UTF8.self)) ?? -1
    }

    func deregister(lease: Int64) throws { try client.revoke(lease: lease) }
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
            return state.brokers.values.map(\.0).sorted { $0.nodeId < $1.nodeId }
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
}
