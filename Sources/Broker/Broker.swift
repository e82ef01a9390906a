// The broker: the log manager, the topic registry, the handlers, and the reactor server
// that feeds them frames. One instance per process.

import Coordinators
import FoundationEssentials
import KafkaProtocol
import KafkaWire
import LogStorage
import Logging
import Reactor
import Security
import Synchronization
import SystemCalls

public final class Broker: Sendable {
    public let configuration: BrokerConfiguration
    public let clusterId: String
    /// The data directory as an absolute path (what Kafka calls the log dir); nil in memory.
    public let logDirectory: String?
    public let logs: LogManager
    public let topics: TopicRegistry
    let scramCredentials: ScramCredentialStore
    let fetchWaiters = FetchWaiters()
    /// Set once a graceful shutdown begins: nothing waits any more.
    private let shutdownBegan = Atomic(false)
    /// Coordinator replays under way (what /readyz waits for).
    private let replaying = Atomic<Int>(0)
    let fetchSessions = FetchSessionCache()
    let producerIds: ProducerIds
    public let groups: GroupCoordinator
    public let transactions: TransactionCoordinator
    let offsetsTopic: InternalTopicLog
    let transactionTopic: InternalTopicLog
    /// Where the transaction coordinator's markers go: local logs, or other brokers.
    let transactionMarkers: RoutedMarkerWriter
    // Set by `serve`, cleared by `shutdown`, under `tickerLock`.
    private let tickerLock = Lock()
    /// Held while an internal topic is being created.
    private let internalTopicLock = Lock()
    nonisolated(unsafe) private var coordinatorTicker: WorkQueue?
    /// Built on the first request, not at start-up: reading each handler's api key loads its
    /// request type, code spread over the whole binary (about 1 MB more resident at idle).
    var handlers: HandlerRegistry { configuration.telemetryEnabled ? .standard : .withoutTelemetry }
    /// Where the broker's lines go: the executable's handler (logfmt or JSON on stderr), or
    /// whatever a host application or test gives it.
    public let logger: Logger
    /// The listeners' bound addresses (ports resolved when 0 was asked for), set by `serve`;
    /// until then, the configured ones.
    private let boundAddresses: Mutex<[SocketAddress]>
    /// Client quotas and the byte rates measured against them.
    let quotas: ClientQuotas
    /// ACLs, when an authorizer is configured; nil: every request is allowed.
    let authorizer: Authorizer?
    /// Failed log writes, logged once per episode.
    let storageFailures: StorageFailures
    private let clientProblems = LogRateLimiter(clock: { Int64(System.monotonicNanoseconds() / 1_000_000) })
    /// Where handlers that create or delete files run (ApiHandler.runsOnAdminThread).
    let adminWork: WorkQueue
    /// Each event loop's counters, summed at a scrape.
    let metrics: BrokerMetrics
    /// KIP-714: the clients' subscriptions and the metrics they pushed.
    let telemetry: ClientTelemetry
    /// metadata.store: where the cluster's brokers register; nil for a single broker.
    let metadataStore: (any ClusterMetadataStore)?
    /// This broker's registration, from `serve` to `shutdown`.
    private let membershipState = Mutex<ClusterMembership?>(nil)
    var membership: ClusterMembership? { membershipState.withLock { $0 } }
    /// The replicated partitions' leaders and followers, from `serve` to `shutdown` in a cluster.
    private let replicaState = Mutex<ReplicaManager?>(nil)
    var replicas: ReplicaManager? { replicaState.withLock { $0 } }
    /// Swiftlet's release, as the console and `--version` show it.
    public static let softwareVersion = "0.1.0"

    public convenience init(
        configuration: BrokerConfiguration, logger: Logger = Logger(label: "swiftlet", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        let store = try configuration.metadataStore.map { url -> any ClusterMetadataStore in
            guard let endpoints = EtcdClient.endpoints(of: url) else {
                throw BrokerError.cluster("metadata.store \(url): expected etcd://host:port[,host:port...]")
            }
            return EtcdMetadataStore(client: EtcdClient(endpoints: endpoints), prefix: configuration.metadataStorePrefix)
        }
        try self.init(configuration: configuration, metadataStore: store, logger: logger)
    }

    /// A broker that is a member of the cluster `metadataStore` keeps (tests give an
    /// in-memory one); its cluster id is the cluster's, the first broker's.
    init(configuration given: BrokerConfiguration, metadataStore: (any ClusterMetadataStore)?, logger: Logger) throws {
        if metadataStore != nil, let problem = Self.interBrokerProblem(given) { throw BrokerError.cluster(problem) }
        let configuration = try Self.adoptingClusterId(given, from: metadataStore)
        self.metadataStore = metadataStore
        self.configuration = configuration
        self.logger = logger
        metrics = BrokerMetrics(enabled: configuration.metricsEnabled)
        telemetry = ClientTelemetry(
            pushIntervalMilliseconds: configuration.telemetryPushIntervalMilliseconds, maximumBytes: configuration.telemetryMaximumBytes)
        let logLine: @Sendable (String) -> Void = { logger.info("\($0)") }
        storageFailures = StorageFailures(logger: logger)
        boundAddresses = Mutex(configuration.listeners.map(\.address))
        if let directory = configuration.dataDirectory { try System.makeDirectory(directory) }
        logDirectory = try configuration.dataDirectory.map { try System.canonicalPath($0) }
        // Before anything else in the directory is read: it may belong to another broker.
        let storedClusterId = try Self.storedClusterId(configuration)
        topics = try TopicRegistry(
            dataDirectory: configuration.dataDirectory, logDirectory: configuration.dataDirectory.map { $0 + "/logs" })
        if let warning = topics.recoveryWarning { logger.warning("\(warning)") }
        var allocateBlock: (@Sendable (Int64) throws -> Int64)?
        if let metadataStore { allocateBlock = { size in try metadataStore.allocateProducerIds(count: size) } }
        producerIds = ProducerIds(dataDirectory: configuration.dataDirectory, allocateBlock: allocateBlock)
        // Kept in the cluster's store by a cluster member, so that every broker answers alike.
        let place = { (name: String, file: String) -> SharedDocument.Place in
            if let metadataStore { return .cluster(metadataStore, name: name) }
            return configuration.dataDirectory.map { .file(path: $0 + "/" + file) } ?? .memory
        }
        scramCredentials = try ScramCredentialStore(
            document: SharedDocument(place("scram-credentials", ScramCredentialStore.fileName)))
        try Self.storeStartUsers(configuration.sasl.startUsers, in: scramCredentials)
        quotas = try ClientQuotas(document: SharedDocument(place("quotas", ClientQuotas.fileName)))
        authorizer =
            configuration.authorizerEnabled
            ? try Authorizer(
                document: SharedDocument(place("acls", Authorizer.fileName)), superUsers: configuration.superUsers,
                allowEveryoneIfNoAclFound: configuration.allowEveryoneIfNoAclFound) : nil
        let registry = topics
        let defaults = configuration.topicDefaults
        logs = try LogManager(
            dataDirectory: configuration.dataDirectory.map { $0 + "/logs" },
            configuration: { partition in
                let overrides = registry.topic(named: partition.topic)?.configs ?? [:]
                return (try? TopicConfigs.apply(overrides, to: defaults).get()) ?? defaults
            },
            // The registry is written first: a partition it does not list is what remains
            // of a deletion, or of a CreatePartitions, that a stop interrupted.
            isRegistered: { partition in (registry.topic(named: partition.topic)?.partitions ?? 0) > partition.partition },
            flushPolicy: configuration.flushPolicy)
        for event in logs.recoveryEvents {
            if event.inFlushedSegment { logger.error("corrupt log: \(event)") } else { logger.info("recovery: \(event)") }
        }
        for directory in logs.sweptDirectories { logLine("removed \(directory): no topic owns it (a deletion a stop interrupted)") }
        try Self.completeInterruptedCreations(topics: topics, logs: logs, defaults: defaults, log: logLine)
        // A new directory's file is written once the logs hold its lock: a second process
        // started on it at the same time cannot overwrite it.
        clusterId = try storedClusterId ?? Self.writeMetaProperties(configuration)
        adminWork = try WorkQueue(name: "swiftlet-admin")
        offsetsTopic = InternalTopicLog(name: OffsetsTopic.name, logs: logs, topics: topics, log: logLine)
        transactionTopic = InternalTopicLog(name: TransactionCoordinator.stateTopic, logs: logs, topics: topics, log: logLine)
        let clock: @Sendable () -> Int64 = { System.wallClockMilliseconds() }
        groups = GroupCoordinator(
            configuration: configuration.groups, log: offsetsTopic, topics: RegistryTopicCatalog(topics: topics), clock: clock,
            logger: logger)
        transactionMarkers = RoutedMarkerWriter(local: BrokerMarkerWriter(logs: logs, groups: groups))
        transactions = TransactionCoordinator(
            configuration: configuration.transactions, log: transactionTopic,
            markers: transactionMarkers, producerIds: producerIds, clock: clock, logger: logger)
        for name in logs.allPartitions {
            let log = logs.partition(name)!
            attachWaiters(to: log)
            // A data directory that served a cluster, now used by a single broker: the high
            // watermark its replication left would cap what consumers read.
            if metadataStore == nil && log.replicationHighWatermark != nil {
                log.setHighWatermark(nil)
                try? log.checkpointHighWatermark()
            }
        }
        offsetsTopic.attach(to: self)
        transactionTopic.attach(to: self)
        transactionMarkers.attach(to: self)
        try loadCoordinators(completingTransactions: metadataStore == nil)
        try createSeedTopics()
    }

    /// A cluster member's cluster id is the cluster's (the first broker's, kept in the store),
    /// unless it is configured: then a data directory of another cluster still refuses it.
    private static func adoptingClusterId(
        _ configuration: BrokerConfiguration, from store: (any ClusterMetadataStore)?
    ) throws -> BrokerConfiguration {
        guard let store, configuration.clusterId == nil else { return configuration }
        var adopted = configuration
        do {
            adopted.clusterId = try store.clusterId(proposing: try storedClusterId(configuration) ?? Uuid.random().base64)
        } catch let error as BrokerError {
            throw error
        } catch {
            throw BrokerError.cluster("metadata store: \(error)")
        }
        return adopted
    }

    /// `--topic`: the configured topics that do not exist yet, made before clients come.
    private func createSeedTopics() throws {
        let missing = configuration.seedTopics.filter { topics.topic(named: $0.name) == nil }
        guard !missing.isEmpty else { return }
        let outcomes = createTopics(
            missing.map { TopicCreation(name: $0.name, partitions: $0.partitions ?? configuration.defaultPartitions, configs: $0.configs) })
        for case .failure(let error) in outcomes { throw error }
    }

    /// Replays the internal topics (or the partitions named) into the coordinators, then
    /// completes transactions a stop interrupted between PrepareCommit/PrepareAbort and their
    /// markers. A cluster member's start leaves those to the coordinator's deadline pass:
    /// before joining, it cannot tell where their markers go.
    func loadCoordinators(offsetsPartitions: Set<Int32>? = nil, statePartitions: Set<Int32>? = nil, completingTransactions: Bool = true)
        throws
    {
        let (groups, transactions, log) = (groups, transactions, log)
        replaying.add(1, ordering: .releasing)
        defer { replaying.subtract(1, ordering: .releasing) }
        let offsetRecords = try offsetsTopic.replay(partitions: offsetsPartitions) { entry in
            switch entry {
            case .record(let key, let value, nil):
                if !groups.replay(key: key, value: value) { log("skipped an undecodable record of \(OffsetsTopic.name)") }
            case .record(let key, let value, let producerId?):
                groups.replayTransactional(producerId: producerId, key: key, value: value)
            case .marker(let producerId, let commit, let partition):
                groups.completeTransaction(producerId: producerId, offsetsPartition: partition, commit: commit)
            }
        }
        if offsetRecords > 0 { log("loaded \(offsetRecords) record(s) of \(OffsetsTopic.name)") }
        let transactionRecords = try transactionTopic.replay(partitions: statePartitions) { entry in
            guard case .record(let key, let value, _) = entry else { return }
            if !transactions.replay(key: key, value: value) { log("skipped an undecodable record of \(TransactionCoordinator.stateTopic)") }
        }
        if transactionRecords > 0 { log("loaded \(transactionRecords) record(s) of \(TransactionCoordinator.stateTopic)") }
        if completingTransactions { transactions.completeInterruptedTransactions() }
    }

    /// Creates an internal topic (compacted) unless it exists, with its configured partitions
    /// and replication factor. Callers wait while another thread creates it, so it returns
    /// only once every partition log exists.
    func ensureInternalTopic(named name: String) throws {
        let (partitions, replicationFactor) =
            name == OffsetsTopic.name
            ? (configuration.groups.offsetsTopicPartitions, configuration.offsetsTopicReplicationFactor)
            : (configuration.transactions.stateTopicPartitions, configuration.transactionStateReplicationFactor)
        internalTopicLock.lock()
        defer { internalTopicLock.unlock() }
        // In a cluster, once the cluster's view has it: the registry learns of a topic a moment
        // before that view, which is what FindCoordinator reads its leaders from.
        guard membership.map({ $0.topic(named: name) == nil }) ?? (topics.topic(named: name) == nil) else { return }
        var configs = ["cleanup.policy": "compact", "segment.bytes": "104857600"]
        if name == TransactionCoordinator.stateTopic {
            configs["min.insync.replicas"] = String(configuration.transactionStateMinimumInSyncReplicas)
        }
        do {
            _ = try createTopics([
                TopicCreation(
                    name: name, partitions: partitions, configs: configs,
                    replicationFactor: min(replicationFactor, Int16(liveBrokerIds.count)))
            ])[0].get()
        } catch BrokerError.topicExists {
            // Another broker of the cluster made it first.
        }
    }

    /// The cluster id: given, or the one stored in meta.properties, or a new one stored there.
    /// The cluster id from the data directory's meta.properties, checked against this start's
    /// settings; a new directory gets one (the configured id, or a new one).
    /// The cluster id of the data directory's meta.properties, checked against this start's
    /// settings; nil for a new directory (or in memory).
    private static func storedClusterId(_ configuration: BrokerConfiguration) throws -> String? {
        guard let directory = configuration.dataDirectory else { return nil }
        let path = directory + "/" + MetaProperties.fileName
        let bytes: [UInt8]?
        do {
            bytes = try System.readFileIfPresent(path)
        } catch {
            throw BrokerError.metaProperties(MetaPropertiesError.unreadable("\(error)").message(path: path))
        }
        guard let bytes else { return nil }
        let stored: MetaProperties
        switch MetaProperties.parse(String(decoding: bytes, as: UTF8.self)) {
        case .success(let parsed): stored = parsed
        case .failure(let error): throw BrokerError.metaProperties(error.message(path: path))
        }
        if let error = stored.verify(clusterId: configuration.clusterId, nodeId: configuration.nodeId) {
            throw BrokerError.metaProperties(error.message(path: path))
        }
        return stored.clusterId
    }

    /// A new directory's meta.properties: the configured cluster id, or a new one.
    private static func writeMetaProperties(_ configuration: BrokerConfiguration) throws -> String {
        let created = MetaProperties(clusterId: configuration.clusterId ?? Uuid.random().base64, nodeId: configuration.nodeId)
        if let directory = configuration.dataDirectory {
            try System.replaceFile(directory + "/" + MetaProperties.fileName, with: Array(created.text.utf8))
        }
        return created.clusterId
    }

    /// A topic registered without all its partition directories is a creation (or a
    /// CreatePartitions) that a stop interrupted after its registration: the rest is created
    /// now, empty, as the registration promised.
    private static func completeInterruptedCreations(
        topics: TopicRegistry, logs: LogManager, defaults: LogConfiguration, log: (String) -> Void
    ) throws {
        for topic in topics.all {
            let missing = (0..<topic.partitions).map { TopicPartition(topic: topic.name, partition: $0) }.filter {
                logs.partition($0) == nil
            }
            guard !missing.isEmpty else { continue }
            let configuration = (try? TopicConfigs.apply(topic.configs, to: defaults).get()) ?? defaults
            for partition in missing { _ = try logs.createPartition(partition, configuration: configuration) }
            log("created \(missing.count) missing partition(s) of topic \(topic.name) (a creation a stop interrupted)")
        }
    }

    /// Users given at start (`--user`) get SCRAM-SHA-256 and SCRAM-SHA-512 credentials for
    /// their password, replacing what they had.
    private static func storeStartUsers(_ users: [String: String], in store: ScramCredentialStore) throws {
        guard !users.isEmpty else { return }
        try store.update { existing in
            var next = existing
            for (user, password) in users {
                for mechanism in ScramMechanism.allCases {
                    next[user, default: [:]][mechanism.kafkaType] = ScramCredential(mechanism: mechanism, password: password)
                }
            }
            return (next, ())
        }
    }

    /// Every append (a client's, a coordinator's, a follower's copy) and every move of the
    /// high watermark wakes the fetches parked on the partition; in a cluster the leader's
    /// replica state learns of the new log end too.
    func attachWaiters(to partition: PartitionLog) {
        let waiters = fetchWaiters
        let name = partition.topicPartition
        guard metadataStore != nil else {
            partition.onAppend = { _ in waiters.wake(name) }
            return
        }
        partition.onAppend = { [unowned self] logEndOffset in
            waiters.wake(name)
            replicas?.leaderAppended(name, logEndOffset: logEndOffset)
        }
    }

    /// Kafka's controller refuses an operation of more than 10,000 metadata records (one per
    /// new topic and one per new partition) as an "excessively large batch"; the same bound
    /// keeps one request from taking every file descriptor.
    static let maximumRecordsPerRequest = 10_000

    /// Creates a topic and its partition logs: all of them or, on a failure (out of file
    /// descriptors, a full disk), none, and the topic is not registered.
    @discardableResult
    public func createTopic(name: String, partitions: Int32, configs: [String: String] = [:]) throws -> TopicInfo {
        try createTopics([TopicCreation(name: name, partitions: partitions, configs: configs)])[0].get()
    }

    /// Creates topics as one CreateTopics request asks: registered together (one write of
    /// the registry, which a stop may interrupt: the next start completes the rest), then
    /// each topic's partition logs, all or none for each topic.
    func createTopics(_ requested: [TopicCreation]) -> [Result<TopicInfo, any Error>] {
        if let membership { return createTopics(requested, in: membership) }
        var results: [Result<TopicInfo, any Error>] = requested.map { topic in
            Result {
                _ = try TopicConfigs.apply(topic.configs, to: configuration.topicDefaults).get()
                return TopicInfo(name: topic.name, id: Uuid.random().description, partitions: topic.partitions, configs: topic.configs)
            }
        }
        let added: Set<String>
        do {
            added = try topics.add(results.compactMap { try? $0.get() })
        } catch {
            return results.map { result in result.flatMap { _ in .failure(error) } }
        }
        var failed: [String] = []
        for index in results.indices {
            guard case .success(let topic) = results[index] else { continue }
            guard added.contains(topic.name) else {
                results[index] = .failure(BrokerError.topicExists(topic.name))
                continue
            }
            do {
                let logConfiguration = try TopicConfigs.apply(topic.configs, to: configuration.topicDefaults).get()
                try createPartitions(of: topic.name, 0..<topic.partitions, configuration: logConfiguration)
                log("created topic \(topic.name) with \(topic.partitions) partition(s)")
            } catch {
                failed.append(topic.name)
                results[index] = .failure(error)
            }
        }
        if !failed.isEmpty { try? topics.remove(failed) }
        return results
    }

    /// Adds partitions up to `count` (CreatePartitions), all or none; in a cluster on the
    /// brokers `assignment` names for each new partition, or spread over the live ones.
    func addPartitions(to topic: TopicInfo, count: Int32, assignment: [[Int32]] = []) throws {
        if let membership { return try addPartitions(to: topic, count: count, assignment: assignment, in: membership) }
        let logConfiguration = try TopicConfigs.apply(topic.configs, to: configuration.topicDefaults).get()
        let added = topic.partitions..<count
        try createPartitions(of: topic.name, added, configuration: logConfiguration)
        do {
            guard
                try topics.update(
                    named: topic.name,
                    {
                        $0.partitions = max($0.partitions, count)
                        return true
                    }) != nil
            else {
                throw BrokerError.unknownTopic(topic.name)  // deleted meanwhile
            }
        } catch {
            for index in added { try? logs.deletePartition(TopicPartition(topic: topic.name, partition: index)) }
            throw error
        }
        log("topic \(topic.name) now has \(count) partition(s)")
    }

    /// Applies `change` to a topic's overrides, validates the result and, unless
    /// `validateOnly`, stores it and reconfigures the topic's partition logs. Returns the
    /// Kafka error and message for the resource.
    func alterTopicConfigs(
        resourceType: Int8, name: String, validateOnly: Bool,
        _ change: ([String: String]) -> [String: String]
    ) -> (ErrorCode, String?) {
        guard resourceType == ConfigResourceType.topic.rawValue else {
            if resourceType == ConfigResourceType.broker.rawValue {
                return (.invalidRequest, "Broker settings are fixed when Swiftlet starts (flags, environment, --config).")
            }
            return (.invalidRequest, "Unsupported resource type \(resourceType).")
        }
        if let membership { return alterTopicConfigs(name: name, validateOnly: validateOnly, in: membership, change) }
        // Read, changed and written as one step: a concurrent change is not lost.
        var refusal: (ErrorCode, String?)?
        var logConfiguration = configuration.topicDefaults
        let updated: TopicInfo?
        do {
            updated = try topics.update(named: name) { topic in
                let overrides = change(topic.configs)
                switch TopicConfigs.apply(overrides, to: configuration.topicDefaults) {
                case .failure(let invalid):
                    refusal = (.invalidConfig, invalid.description)
                    return false
                case .success(let applied):
                    logConfiguration = applied
                    topic.configs = overrides
                    return !validateOnly
                }
            }
        } catch {
            return (.kafkaStorageError, "\(error)")
        }
        guard let topic = updated else { return (.unknownTopicOrPartition, "Topic \(name) does not exist.") }
        if let refusal { return refusal }
        if validateOnly { return (.none, nil) }
        let overrides = topic.configs
        for index in 0..<topic.partitions {
            logs.partition(TopicPartition(topic: name, partition: index))?.update(configuration: logConfiguration)
        }
        log("topic \(name) configs now \(overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        return (.none, nil)
    }

    private func createPartitions(of topic: String, _ indexes: Range<Int32>, configuration: LogConfiguration) throws {
        var created: [TopicPartition] = []
        do {
            for index in indexes {
                let name = TopicPartition(topic: topic, partition: index)
                attachWaiters(to: try logs.createPartition(name, configuration: configuration))
                created.append(name)
            }
        } catch {
            for name in created { try? logs.deletePartition(name) }
            throw error
        }
    }

    func deleteTopic(_ topic: TopicInfo) throws {
        try deleteTopics([topic])
    }

    /// Unregisters the topics (one write of the registry: a stop after it leaves only
    /// directories that the next start removes), then removes their partition logs.
    func deleteTopics(_ deleted: [TopicInfo]) throws {
        if let membership { return try deleteTopics(deleted, in: membership) }
        try deleteLocally(deleted)
    }

    /// Unregisters the topics here and removes their partition logs.
    func deleteLocally(_ deleted: [TopicInfo]) throws {
        try topics.remove(deleted.map(\.name))
        for topic in deleted {
            for index in 0..<topic.partitions {
                try? logs.deletePartition(TopicPartition(topic: topic.name, partition: index))
            }
            log("deleted topic \(topic.name)")
        }
    }

    // MARK: Serving

    /// Starts serving on the configured listeners; returns the server (its bound addresses
    /// resolve port 0).
    public func serve(handlesSignals: Bool) throws -> Server {
        var server = ServerConfiguration(listenAddresses: configuration.listeners.map(\.address))
        if let loops = configuration.eventLoops { server.eventLoopCount = loops }
        server.reactor.maximumFrameSize = configuration.socketRequestMaxBytes
        server.reactor.idleTimeoutMilliseconds = configuration.connectionsMaxIdleMilliseconds
        server.reactor.queuedMaximumRequestBytes = configuration.queuedMaxRequestBytes
        server.handlesSignals = handlesSignals
        server.shutdownBegins = { [weak self] in self?.beginShutdown() }
        var factories: [any ConnectionHandlerFactory] = []
        for (index, listener) in configuration.listeners.enumerated() {
            let tls = listener.securityProtocol.usesTLS ? try TLSContext(configuration.ssl.settings(for: listener)) : nil
            factories.append(
                KafkaConnectionFactory(
                    broker: self, listener: index, tls: tls, principalMapping: try configuration.ssl.principalMapping(for: listener)))
        }
        let reactor = try makeServer(server, factories: factories)
        boundAddresses.withLock { $0 = reactor.boundAddresses }
        try joinCluster(loops: reactor.eventLoops)
        try reactor.start()
        try logs.startBackgroundWork(
            retentionCheckMilliseconds: configuration.retentionCheckMilliseconds,
            compactionCheckMilliseconds: configuration.compactionCheckMilliseconds,
            producerIdExpiration: (
                configuration.producerIdExpirationMilliseconds,
                configuration.producerIdExpirationCheckIntervalMilliseconds
            ),
            log: log)
        let (groups, transactions) = (groups, transactions)
        // The coordinators' deadlines (session timeouts, rebalance and transaction timeouts).
        let ticker = try WorkQueue(name: "swiftlet-coord")
        ticker.every(milliseconds: 50) {
            groups.expireDeadlines()
            transactions.expireTransactions()
        }
        tickerLock.lock()
        coordinatorTicker = ticker
        tickerLock.unlock()
        return reactor
    }

    /// Registers this broker with the cluster's metadata store, with each listener's
    /// advertised endpoint, before any client is served; a node id another live broker has
    /// refuses the start.
    private func joinCluster(loops: [EventLoop]) throws {
        guard let metadataStore else { return }
        let registration = BrokerRegistration(
            nodeId: configuration.nodeId,
            endpoints: configuration.listeners.indices.map { index in
                let (host, port) = advertised(listener: index)
                return .init(listener: configuration.listeners[index].name, host: host, port: port)
            })
        do {
            // Before the membership's first read of the topics, which it is handed.
            let replicas = try ReplicaManager(broker: self, loops: loops)
            replicaState.withLock { $0 = replicas }
            let membership = try ClusterMembership(
                store: metadataStore, registration: registration,
                leaseSeconds: (configuration.brokerSessionTimeoutMilliseconds + 999) / 1_000,
                logger: logger, topicsChanged: { [weak self] in self?.syncTopics($0) },
                documentsRead: { [weak self] in self?.reloadSharedDocuments(from: $0) })
            try membership.start()
            membershipState.withLock { $0 = membership }
            log("cluster: registered node \(configuration.nodeId) at \(configuration.metadataStore ?? "the metadata store")")
        } catch {
            let replicas = replicaState.withLock { $0.take() }
            replicas?.stop()
            if let refusal = error as? ClusterMembership.Failure { throw BrokerError.cluster("\(refusal)") }
            throw BrokerError.cluster("metadata store: \(error)")
        }
    }

    /// Reads the ACLs, quotas and SCRAM credentials again where another broker of the cluster
    /// changed them (`stored`: the store's documents as just read).
    private func reloadSharedDocuments(from stored: [String: [UInt8]]) {
        var holders: [(SharedDocument, () throws -> Void)] = [
            (scramCredentials.document, scramCredentials.reload), (quotas.document, quotas.reload),
        ]
        if let authorizer { holders.append((authorizer.document, authorizer.reload)) }
        for (document, reload) in holders {
            guard case .cluster(_, let name) = document.place, document.differs(from: stored[name]) else { continue }
            do {
                try reload()
                log("cluster: \(name) changed by another broker: read again")
            } catch {
                logger.warning("cluster: \(name) as stored does not read: \(error); the previous one stays")
            }
        }
    }

    /// The brokers Metadata lists to a client of `listener`, and the controller: the
    /// cluster's live members when there is a cluster, else this broker.
    func clusterView(listener index: Int) -> (brokers: [(nodeId: Int32, host: String, port: Int32)], controllerId: Int32) {
        guard let membership else {
            let (host, port) = advertised(listener: index)
            return ([(configuration.nodeId, host, port)], configuration.nodeId)
        }
        let name = configuration.listeners[index].name
        let brokers = membership.brokers.compactMap { broker in broker.endpoint(name).map { (broker.nodeId, $0.host, $0.port) } }
        return (brokers, membership.controllerId)
    }

    var isShuttingDown: Bool { shutdownBegan.load(ordering: .acquiring) }

    /// Why /readyz answers 503: stopping; a cluster member fenced (it leads nothing until it
    /// has registered again); a coordinator partition being replayed (a leadership taken
    /// over). Nil when ready. Before the start has recovered the logs and replayed the
    /// coordinators, `startingResponder` answers instead.
    var readinessProblem: String? {
        if isShuttingDown { return "shutting down" }
        if membership?.isFenced == true { return "fenced: its cluster lease may have ended; registering again" }
        if replaying.load(ordering: .acquiring) > 0 { return "replaying coordinator partitions" }
        return nil
    }

    /// An HTTP listener on `address` for the start's first moments (log recovery and the
    /// coordinators' replay, before `serve`): /healthz answers 200, /readyz and every other
    /// path 503 "starting". Nil when the address cannot be bound (`serve` then says why).
    /// Stopped by the caller before `serve` binds the address again.
    public static func startingResponder(on address: SocketAddress) -> Server? {
        var configuration = ServerConfiguration(listenAddresses: [address])
        configuration.eventLoopCount = 1
        guard
            let server = try? Server(
                configuration: configuration,
                handlerFactories: [HTTPConnectionFactory(broker: nil, consoleReadOnly: true, loopback: isLoopback(address))])
        else { return nil }
        do {
            try server.start()
        } catch {
            server.shutdown()
            return nil
        }
        return server
    }

    /// The first listener's advertised host and port (the banner's and the ready line's).
    public var advertised: (host: String, port: Int32) { advertised(listener: 0) }

    /// The reactor server for the Kafka listeners and, after them (so their indexes stay the
    /// listeners'), the HTTP one; a default HTTP listener whose port is taken is left out.
    private func makeServer(_ server: ServerConfiguration, factories: [any ConnectionHandlerFactory]) throws -> Server {
        guard let http = configuration.httpListener else { return try Server(configuration: server, handlerFactories: factories, log: log) }
        var withHTTP = server
        withHTTP.listenAddresses.append(http)
        do {
            // Changes from the console only where the page cannot be reached from elsewhere.
            let loopback = Self.isLoopback(http)
            let console = HTTPConnectionFactory(
                broker: self, consoleReadOnly: configuration.consoleReadOnly ?? !loopback, loopback: loopback)
            return try Server(configuration: withHTTP, handlerFactories: factories + [console], log: log)
        } catch {
            guard !configuration.httpListenerRequired else { throw BrokerError.httpListener("HTTP listener \(http): \(error)") }
            logger.warning("HTTP listener \(http) not started (\(error)): serving Kafka without /healthz, /readyz and /metrics")
            return try Server(configuration: server, handlerFactories: factories, log: log)
        }
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        address.host.hasPrefix("127.") || address.host == "::1" || address.host == "localhost"
    }

    /// Where the HTTP listener is bound, when it runs.
    public var httpAddress: SocketAddress? {
        boundAddresses.withLock { $0.count > configuration.listeners.count ? $0.last : nil }
    }

    /// What Metadata and FindCoordinator give the clients of a listener.
    func advertised(listener index: Int) -> (host: String, port: Int32) {
        configuration.listeners[index].advertised(boundTo: boundAddresses.withLock { $0[index] })
    }

    /// An informational line.
    func log(_ message: String) { logger.info("\(message)") }

    /// Logs what a client did wrong, a few lines per kind every 10 s at most at `level`;
    /// at debug level every one of them.
    func logClientProblem(_ kind: String, _ message: String, level: Logger.Level = .info) {
        if let line = clientProblems.admit(kind, message) {
            logger.log(level: level, "\(line)")
        } else {
            logger.debug("\(kind): \(message)")
        }
    }

    /// When a graceful shutdown begins, before the event loops drain: parked fetches are
    /// answered with what there is and members waiting at a group barrier get
    /// NOT_COORDINATOR, so that stopping takes the time to flush, not max_wait_ms or a
    /// rebalance timeout. Kafka's clients retry both against the restarted broker.
    public func beginShutdown() {
        shutdownBegan.store(true, ordering: .releasing)
        membership?.beginLeaving()
        fetchWaiters.wakeAll()
        groups.releaseWaitingMembers()
    }

    /// Flushes the logs and writes the clean-shutdown marker.
    public func shutdown() throws {
        // The coordinators' deadlines and markers first, while this broker still knows what it
        // leads: their writes must not take a cluster member's copies for a single broker's.
        tickerLock.lock()
        let ticker = coordinatorTicker
        coordinatorTicker = nil
        tickerLock.unlock()
        ticker?.stop()
        transactionMarkers.stop()
        // Taken out of their locks before they are stopped: their threads read them.
        let replicas = replicaState.withLock { $0.take() }
        let membership = membershipState.withLock { $0.take() }
        if let membership { replicas?.moveLeadershipAway(in: membership) }
        replicas?.stop()
        membership?.leave()
        adminWork.stop()
        do {
            try logs.shutdown()
        } catch {
            // What could be flushed was (a full disk still takes fsyncs, not new checkpoints):
            // the stop itself succeeded, and the next start recovers the rest.
            guard case .unclosedPartitions = error else { throw error }
            logger.warning("shutdown: \(error)")
        }
    }
}

/// A topic to create: its name, partition count and config overrides, and in a cluster its
/// replication factor (-1: the default) or its replicas chosen per partition.
struct TopicCreation {
    var name: String
    var partitions: Int32
    var configs: [String: String]
    var replicationFactor: Int16 = -1
    /// Partition i's replicas, the first its preferred leader; empty: the broker chooses.
    var assignment: [[Int32]] = []
}

extension Broker {
    /// The error code a failed topic change answers: retriable when the cluster's metadata
    /// store did not take it, a storage error when the disk did not.
    static func errorCode(forChangeFailure error: any Error) -> ErrorCode {
        if case BrokerError.metadataUnavailable = error { return .requestTimedOut }
        return .kafkaStorageError
    }

    /// The node ids of the live brokers (this one alone without a cluster).
    var liveBrokerIds: [Int32] { membership?.brokers.map(\.nodeId) ?? [configuration.nodeId] }
}

public enum BrokerError: Error, CustomStringConvertible {
    /// The data directory's meta.properties refuses this start (another cluster or node, or a
    /// file that does not read): a configuration error, as Kafka reports it.
    case metaProperties(String)
    case topicExists(String)
    case unknownTopic(String)
    /// The HTTP listener asked for cannot bind: a configuration error too.
    case httpListener(String)
    /// The cluster refuses this broker (its node id taken) or its metadata store cannot be reached.
    case cluster(String)
    /// A change to the cluster's metadata that the store did not take (unreachable, or
    /// changed meanwhile too often): retriable.
    case metadataUnavailable(String)

    public var description: String {
        switch self {
        case .metaProperties(let message), .httpListener(let message), .cluster(let message), .metadataUnavailable(let message):
            return message
        case .topicExists(let name): return "topic \(name) already exists"
        case .unknownTopic(let name): return "topic \(name) does not exist"
        }
    }
}
