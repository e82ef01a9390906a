// The broker's settings, named after Kafka's server.properties keys where they apply, with
// Kafka's defaults unless a dev broker has reason to differ (said where it does).

import Coordinators
import LogStorage
import SystemCalls

public struct BrokerConfiguration: Sendable {
    public var nodeId: Int32 = 1
    /// Kafka's cluster.id; generated and persisted on first start when not given.
    public var clusterId: String?
    /// Where the broker listens, each with its security protocol and what it advertises.
    public var listeners: [Listener] = [.plaintext(SocketAddress("127.0.0.1:9092")!)]
    /// listeners, listener.security.protocol.map and advertised.listeners as given, from any
    /// source and in any order; `resolveListeners` makes `listeners` of them.
    public var listenerSettings = ListenerSettings()
    /// SASL mechanisms and users, for the listeners that use SASL.
    public var sasl = SaslSettings()
    /// inter.broker.listener.name: the listener the brokers of a cluster reach each other on
    /// (replication, transaction markers); nil: the first of security.inter.broker.protocol's.
    public var interBrokerListenerName: String?
    /// security.inter.broker.protocol (Kafka's default PLAINTEXT).
    public var interBrokerSecurityProtocol = SecurityProtocol.plaintext
    /// ssl.* keys, for the listeners that use TLS.
    public var ssl = SSLKeys()
    /// authorizer.class.name set to Kafka's StandardAuthorizer (or --authorizer): ACLs apply.
    public var authorizerEnabled = false
    /// super.users: principals ACLs never refuse ("User:admin").
    public var superUsers: Set<String> = []
    /// allow.everyone.if.no.acl.found
    public var allowEveryoneIfNoAclFound = false
    /// nil: memory mode (--memory).
    public var dataDirectory: String? = "./swiftlet-data"
    public var eventLoops: Int?
    /// auto.create.topics.enable
    public var autoCreateTopics = true
    /// num.partitions
    public var defaultPartitions: Int32 = 1
    /// message.max.bytes (the broker-wide default of max.message.bytes)
    public var messageMaxBytes = 1_048_588
    /// Topic config defaults from log.* keys.
    public var logDefaults = LogConfiguration()
    public var flushPolicy: FlushPolicy = .never
    /// log.retention.check.interval.ms
    public var retentionCheckMilliseconds = 300_000
    /// log.cleaner.backoff.ms: how often compacted partitions are looked at (a pass runs
    /// only when one is due).
    public var compactionCheckMilliseconds = 15_000
    /// producer.id.expiration.ms: idle producers' state is forgotten after this long.
    public var producerIdExpirationMilliseconds: Int64 = 86_400_000
    /// producer.id.expiration.check.interval.ms
    public var producerIdExpirationCheckIntervalMilliseconds = 600_000
    /// socket.request.max.bytes
    public var socketRequestMaxBytes = 100 * 1024 * 1024
    /// connections.max.idle.ms
    public var connectionsMaxIdleMilliseconds = 600_000
    /// connections.max.reauth.ms: how long a SASL session lasts before the client must
    /// re-authenticate (KIP-368); 0, Kafka's default, keeps it for the connection's life.
    public var connectionsMaxReauthMilliseconds: Int64 = 0
    /// queued.max.request.bytes: memory that large requests may hold until answered, for all
    /// connections together (-1: no limit, Kafka's default; Swiftlet's is 128 MiB).
    public var queuedMaxRequestBytes = 128 * 1024 * 1024
    /// group.* and offsets.* settings of the group coordinator.
    public var groups = GroupConfiguration()
    /// transaction.* settings of the transaction coordinator.
    public var transactions = TransactionConfiguration()
    /// The HTTP listener (/healthz, /readyz, /metrics); nil: none.
    public var httpListener: SocketAddress?
    /// Whether it was asked for: a default one whose port is taken is left out with a
    /// warning (several brokers on one machine), an asked-for one that cannot bind stops the start.
    public var httpListenerRequired = false
    /// metadata.store: `etcd://host:port[,host:port...]` makes the broker a cluster member
    /// (registered under a lease, the controller elected in etcd); nil: a single broker.
    public var metadataStore: String?
    /// metadata.store.prefix: the cluster's keys in the store, so that clusters can share one.
    public var metadataStorePrefix = "/swiftlet"
    /// broker.session.timeout.ms: how long a broker that stops renewing its registration
    /// stays listed (its lease, in whole seconds).
    public var brokerSessionTimeoutMilliseconds = 9_000
    /// replica.lag.time.max.ms: a follower that has not caught up with its leader for this
    /// long leaves the in-sync replicas.
    public var replicaLagTimeMaximumMilliseconds = 30_000
    /// A follower's fetches, as Kafka's: replica.fetch.wait.max.ms (how long the leader may hold
    /// one with less than replica.fetch.min.bytes), replica.fetch.max.bytes per partition and
    /// replica.fetch.response.max.bytes in all.
    public var replicaFetch = ReplicaFetchSettings()

    public struct ReplicaFetchSettings: Sendable {
        public var waitMaximumMilliseconds: Int32 = 500
        public var minimumBytes: Int32 = 1
        public var maximumBytes: Int32 = 1_048_576
        public var responseMaximumBytes: Int32 = 10_485_760
        public init() {}
    }
    /// unclean.leader.election.enable: whether a partition whose in-sync replicas are all gone
    /// may be led by an out-of-sync live replica (losing what it lacks); topics can override it.
    public var uncleanLeaderElection = false
    /// auto.leader.rebalance.enable, leader.imbalance.check.interval.seconds and
    /// leader.imbalance.per.broker.percentage: the controller gives partitions back to their
    /// preferred replicas when a broker's share of them led elsewhere passes the percentage.
    public var autoLeaderRebalance = true
    public var leaderImbalanceCheckIntervalMilliseconds = 300_000
    public var leaderImbalancePerBrokerPercentage = 10
    /// default.replication.factor: the replicas of a topic created without a count.
    public var defaultReplicationFactor: Int16 = 1
    /// offsets.topic.replication.factor and transaction.state.log.replication.factor: the
    /// internal topics' replicas, at most as many as there are live brokers when they are made
    /// (Kafka waits for enough brokers instead; a dev cluster should not).
    public var offsetsTopicReplicationFactor: Int16 = 3
    public var transactionStateReplicationFactor: Int16 = 3
    /// transaction.state.log.min.isr: __transaction_state's min.insync.replicas, so that a
    /// transaction's decision counts once this many replicas have it.
    public var transactionStateMinimumInSyncReplicas: Int32 = 2
    /// metrics.enabled: the hot-path counters of /metrics (requests, latencies, traffic per
    /// topic, connections); off, /metrics keeps what it reads from the logs and groups.
    public var metricsEnabled = true
    /// http.console.read.only: whether the console refuses changes; nil: read-only unless the
    /// HTTP listener is on loopback.
    public var consoleReadOnly: Bool?
    /// telemetry.enabled: whether GetTelemetrySubscriptions and PushTelemetry are served.
    public var telemetryEnabled = true
    /// KIP-714: telemetry.push.interval.ms, how often clients are asked to push their metrics,
    /// and telemetry.max.bytes (Kafka's), the largest push taken.
    public var telemetryPushIntervalMilliseconds: Int32 = 30_000
    public var telemetryMaximumBytes: Int32 = 1_048_576
    /// Topics made at start when missing (`--topic`, as kfake's seed topics); existing ones
    /// are left as they are.
    public var seedTopics: [SeedTopic] = []

    public init() {}

    /// Kafka's defaults where Swiftlet's differ for a dev broker (`--kafka-defaults`; the README
    /// lists every departure): today only group.initial.rebalance.delay.ms, 0 here so that a
    /// lone consumer joins at once, 3000 in Kafka so that members starting together join one
    /// rebalance.
    public mutating func restoreKafkaDefaults() {
        groups.initialRebalanceDelayMilliseconds = 3_000
    }

    /// The log settings every topic starts from: the log.* defaults with message.max.bytes.
    /// Topic overrides apply on top (TopicConfigs.apply).
    var topicDefaults: LogConfiguration {
        var defaults = logDefaults
        defaults.maximumBatchBytes = messageMaxBytes
        return defaults
    }

    public struct ListenerSettings: Sendable {
        public var listeners: String?
        public var protocolMap: String?
        public var advertised: String?
        /// controller.listener.names: listeners of Kafka's KRaft controller, left out.
        public var controllerNames: Set<String> = []
        public init() {}
    }

    /// Parses the listener settings given into `listeners` (left as they are when none were).
    public mutating func resolveListeners() throws(ListenerError) {
        let protocolMap =
            try listenerSettings.protocolMap.map { text throws(ListenerError) in try Listener.parse(protocolMap: text) }
            ?? Listener.defaultProtocolMap
        let controllers = listenerSettings.controllerNames
        func isController(_ entry: Substring) -> Bool {
            guard let separator = entry.firstRange(of: "://") else { return false }
            return controllers.contains(String(entry[..<separator.lowerBound]).trimmingBlanks.uppercased())
        }
        func clientEntries(_ text: String) -> String { text.split(separator: ",").filter { !isController($0) }.joined(separator: ",") }
        if let text = listenerSettings.listeners {
            listeners = try Listener.parse(listeners: clientEntries(text), protocolMap: protocolMap)
            if listeners.isEmpty { throw ListenerError("listeners: no listener but the controller's (controller.listener.names)") }
        }
        if let text = listenerSettings.advertised { try Listener.advertise(clientEntries(text), on: &listeners) }
        // Without an advertised address a listener advertises the one it binds, and Kafka
        // refuses the meta-address: clients cannot connect to "every interface".
        if let unroutable = listeners.first(where: { $0.advertisedHost == nil && ["0.0.0.0", "::"].contains($0.address.host) }) {
            throw ListenerError(
                "advertised.listeners cannot use the nonroutable meta-address \(unroutable.address.host) (listener \(unroutable.name) binds it). Use a routable IP address: set advertised.listeners, or --advertised-listener."
            )
        }
    }
}

/// A topic the broker makes at start: `NAME[:PARTITIONS[:key=value,...]]`.
public struct SeedTopic: Sendable, Equatable {
    public var name: String
    public var partitions: Int32?
    public var configs: [String: String]

    public struct Invalid: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    public init(name: String, partitions: Int32? = nil, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.configs = configs
    }

    /// Reads `NAME[:PARTITIONS[:key=value,...]]`, checking the name, the count and the
    /// configs as CreateTopics would; the reason when it is wrong.
    public init(parsing text: String) throws(Invalid) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        name = parts[0]
        if let problem = TopicRegistry.validate(name) { throw Invalid("--topic \(text): invalid topic name: \(problem)") }
        if parts.count > 1 && !parts[1].isEmpty {
            guard let count = Int32(parts[1]), count > 0 else {
                throw Invalid("--topic \(text): \"\(parts[1])\" is not a partition count (1 or more)")
            }
            partitions = count
        }
        configs = [:]
        if parts.count > 2 {
            for pair in parts[2].split(separator: ",") {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw Invalid("--topic \(text): \"\(pair)\" is not key=value")
                }
                configs[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        if case .failure(let invalid) = TopicConfigs.apply(configs, to: LogConfiguration()) {
            throw Invalid("--topic \(text): \(invalid)")
        }
    }
}
