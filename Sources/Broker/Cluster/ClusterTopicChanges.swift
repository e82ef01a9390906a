// A cluster member's topics: a change goes to the metadata store as a compare-and-swap, and
// every broker, the one that made it included, applies what it reads back there. A member's
// registry lists every topic of the cluster; its logs are the partitions it is a replica of.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

extension Broker {
    /// Makes the registry and the partition logs match the cluster's topics: called with each
    /// new read of them, one at a time and in order.
    func syncTopics(_ clusterTopics: [ClusterTopic]) {
        let nodeId = configuration.nodeId
        let wanted = Dictionary(clusterTopics.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        // Deleted, or deleted and made again under the same name: the local topic goes.
        let stale = topics.all.filter { local in wanted[local.name].map { $0.id != local.id } ?? true }
        if !stale.isEmpty {
            do {
                try deleteLocally(stale)
            } catch {
                logger.error("cluster: deleting \(stale.map(\.name).joined(separator: ", ")) here: \(error)")
            }
        }
        for topic in clusterTopics {
            let logConfiguration =
                (try? TopicConfigs.apply(topic.configs, to: configuration.topicDefaults).get()) ?? configuration.topicDefaults
            do {
                let local = topics.topic(named: topic.name)
                if local == nil {
                    _ = try topics.add(topic.info)
                } else if local != topic.info {
                    _ = try topics.update(named: topic.name) { registered in
                        registered = topic.info
                        return true
                    }
                }
                var added = 0
                for (index, state) in topic.partitions.enumerated() {
                    let name = TopicPartition(topic: topic.name, partition: Int32(index))
                    let log = logs.partition(name)
                    if state.replicas.contains(nodeId) {
                        if let log {
                            if local?.configs != topic.configs { log.update(configuration: logConfiguration) }
                        } else {
                            attachWaiters(to: try logs.createPartition(name, configuration: logConfiguration))
                            added += 1
                        }
                    } else if log != nil {
                        // Moved to other brokers: as Kafka's StopReplica with deletion.
                        try logs.deletePartition(name)
                    }
                }
                if local == nil {
                    let led = topic.partitions.filter { $0.leader == nodeId }.count
                    log("cluster: topic \(topic.name), \(topic.partitions.count) partition(s), \(added) replica(s) here, leading \(led)")
                } else if added > 0 {
                    log("cluster: topic \(topic.name) has \(added) more replica(s) here")
                }
            } catch {
                logger.error("cluster: topic \(topic.name): \(error)")
            }
        }
        replicas?.apply(clusterTopics)
    }

    /// In a cluster, the state of a partition that another broker leads (or that has no live
    /// leader): where a client must go instead. Nil for a single broker, a partition led
    /// here, or one the cluster does not know.
    /// A replicated partition the state names this broker leader of, but whose replica state
    /// is being taken down (a leadership moving away, synced before the state is) counts as
    /// led elsewhere too: an acks=all append there would be answered by no ISR.
    /// A fenced broker leads no replicated partition: it answers as if it had no live leader,
    /// so that clients look for the one the controller may have elected meanwhile.
    func ledElsewhere(_ partition: TopicPartition) -> PartitionState? {
        guard let membership, let state = membership.partition(partition.topic, partition.partition) else { return nil }
        if state.leader != configuration.nodeId { return state }
        guard state.replicas.count > 1 else { return nil }
        if membership.isFenced {
            var leaderless = state
            leaderless.leader = -1
            return leaderless
        }
        return replicas?.isReplicated(partition) != true ? state : nil
    }

    /// A partition as Metadata and DescribeTopicPartitions describe it.
    struct PartitionView {
        var errorCode = ErrorCode.none
        var leader: Int32
        var leaderEpoch: Int32 = 0
        var replicas: [Int32]
        var inSyncReplicas: [Int32]
        var offlineReplicas: [Int32] = []
    }

    /// A topic's `count` partitions' leaders, replicas and ISRs: this broker alone without a
    /// cluster; in one, as the store has them, each offline (LEADER_NOT_AVAILABLE, no leader)
    /// while its leader's broker is gone, as nothing is elected until an in-sync replica is live.
    func partitionViews(_ topic: String, count: Int32) -> [PartitionView] {
        let node = configuration.nodeId
        let clusterTopic = membership?.topic(named: topic)
        let live = Set(liveBrokerIds)
        return (0..<max(count, 0)).map { index in
            guard let clusterTopic, Int(index) < clusterTopic.partitions.count else {
                return PartitionView(leader: node, replicas: [node], inSyncReplicas: [node])
            }
            let state = clusterTopic.partitions[Int(index)]
            let online = live.contains(state.leader)
            return PartitionView(
                errorCode: online ? .none : .leaderNotAvailable, leader: online ? state.leader : -1, leaderEpoch: state.leaderEpoch,
                replicas: state.replicas, inSyncReplicas: state.inSyncReplicas.filter(live.contains),
                offlineReplicas: state.replicas.filter { !live.contains($0) })
        }
    }

    /// The leader epoch this broker leads `partition` in, written into each batch it appends
    /// (0 without a cluster).
    func leaderEpoch(of partition: TopicPartition) -> Int32 {
        membership?.partition(partition.topic, partition.partition)?.leaderEpoch ?? 0
    }

    /// A partition's leader as a client of `listener` is told of it (KIP-951's current leader
    /// and its endpoint): -1 and no endpoint while it is offline.
    func currentLeader(_ state: PartitionState, listener: Int) -> (id: Int32, epoch: Int32, endpoint: BrokerRegistration.Endpoint?) {
        let leader = membership?.brokers.first { $0.nodeId == state.leader }
        let endpoint = leader?.endpoint(configuration.listeners[listener].name)
        return (endpoint == nil ? -1 : state.leader, state.leaderEpoch, endpoint)
    }

    /// The coordinators follow the leadership of their internal partitions: a partition this
    /// broker now follows is unloaded, one it now leads is unloaded and replayed afresh (its
    /// groups and transactions as the previous leader left them), as Kafka's coordinators
    /// load and unload on leader election.
    func coordinatorLeadershipChanged(gained: [TopicPartition], lost: [TopicPartition]) {
        var loadOffsets: Set<Int32> = []
        var loadStates: Set<Int32> = []
        for partition in gained + lost {
            let isGained = gained.contains(partition)
            switch partition.topic {
            case OffsetsTopic.name:
                groups.unload(offsetsPartition: partition.partition)
                if isGained { loadOffsets.insert(partition.partition) }
            case TransactionCoordinator.stateTopic:
                transactions.unload(statePartition: partition.partition)
                if isGained { loadStates.insert(partition.partition) }
            default: continue
            }
        }
        guard !loadOffsets.isEmpty || !loadStates.isEmpty else { return }
        do {
            try loadCoordinators(offsetsPartitions: loadOffsets, statePartitions: loadStates)
        } catch {
            logger.error("cluster: loading the coordinators' partitions: \(error)")
        }
    }

    /// The leader epoch this broker leads `partition` in (0 without a cluster, or for a
    /// partition the cluster does not know yet); nil when another broker leads it, so that its
    /// copy here, a follower's, is never written to, and on a cluster member that has left
    /// (stopping), which leads nothing.
    func leaderEpochHere(of partition: TopicPartition) -> Int32? {
        guard let membership else { return metadataStore == nil ? 0 : nil }
        guard let state = membership.partition(partition.topic, partition.partition) else { return 0 }
        return state.leader == configuration.nodeId ? state.leaderEpoch : nil
    }

    /// Whether the partition exists: its log is here, or the cluster has it elsewhere.
    func partitionExists(_ partition: TopicPartition) -> Bool {
        logs.partition(partition) != nil || membership?.partition(partition.topic, partition.partition) != nil
    }

    /// CreateTopics in a cluster: each topic with its partitions' replicas (given, or spread
    /// over the live brokers) created in the store unless its name is taken, then read back.
    func createTopics(_ requested: [TopicCreation], in membership: ClusterMembership) -> [Result<TopicInfo, any Error>] {
        let brokers = membership.brokers.map(\.nodeId)
        let results = requested.map { creation -> Result<String, any Error> in
            Result {
                _ = try TopicConfigs.apply(creation.configs, to: configuration.topicDefaults).get()
                let assignment =
                    creation.assignment.isEmpty
                    ? ClusterTopic.assignment(
                        partitions: creation.partitions,
                        replicationFactor: min(
                            Int(creation.replicationFactor > 0 ? creation.replicationFactor : configuration.defaultReplicationFactor),
                            brokers.count),
                        brokers: brokers,
                        start: Int.random(in: 0..<max(brokers.count, 1)))
                    : creation.assignment
                let topic = ClusterTopic(
                    name: creation.name, id: Uuid.random().description, configs: creation.configs,
                    partitions: assignment.map { PartitionState(replicas: $0) })
                guard try storeChange({ try membership.store.create(topic) }) else { throw BrokerError.topicExists(creation.name) }
                log("cluster: created topic \(creation.name) with \(creation.partitions) partition(s)")
                return creation.name
            }
        }
        // Read back before answering, so that the client's next request here finds them.
        let created = results.compactMap { try? $0.get() }
        membership.awaitTopics { created.allSatisfy { topics.topic(named: $0) != nil } }
        return results.map { result in
            result.flatMap { name in
                topics.topic(named: name).map { .success($0) } ?? .failure(BrokerError.metadataUnavailable("topic \(name) not read back"))
            }
        }
    }

    /// DeleteTopics in a cluster: each topic (by id) removed from the store; every broker
    /// then removes its replicas.
    func deleteTopics(_ deleted: [TopicInfo], in membership: ClusterMembership) throws {
        for topic in deleted {
            guard let stored = membership.topic(named: topic.name), stored.id == topic.id else { continue }
            _ = try storeChange { try membership.store.delete(stored) }
        }
        membership.awaitTopics { deleted.allSatisfy { topics.topic(named: $0.name)?.id != $0.id } }
    }

    /// CreatePartitions in a cluster: the new partitions' replicas as given or spread over the
    /// live brokers, added only if the topic is as it was read.
    func addPartitions(to topic: TopicInfo, count: Int32, assignment given: [[Int32]], in membership: ClusterMembership) throws {
        try changeTopic(topic.name, in: membership) { current in
            guard current.id == topic.id, Int32(current.partitions.count) < count else { return nil }
            let brokers = membership.brokers.map(\.nodeId)
            let replicationFactor = max(current.partitions.first?.replicas.count ?? 1, 1)
            let assignment =
                given.isEmpty
                ? Array(
                    ClusterTopic.assignment(
                        partitions: count, replicationFactor: replicationFactor, brokers: brokers,
                        start: Int.random(in: 0..<max(brokers.count, 1)))[current.partitions.count...]) : given
            var updated = current
            updated.partitions += assignment.map { PartitionState(replicas: $0) }
            return updated
        }
        log("topic \(topic.name) now has \(count) partition(s)")
    }

    /// AlterConfigs and IncrementalAlterConfigs in a cluster: the overrides changed only if the
    /// topic is as it was read (retried on a concurrent change), then synced by every broker.
    func alterTopicConfigs(
        name: String, validateOnly: Bool, in membership: ClusterMembership, _ change: ([String: String]) -> [String: String]
    ) -> (ErrorCode, String?) {
        guard let current = membership.topic(named: name) else { return (.unknownTopicOrPartition, "Topic \(name) does not exist.") }
        if case .failure(let invalid) = TopicConfigs.apply(change(current.configs), to: configuration.topicDefaults) {
            return (.invalidConfig, invalid.description)
        }
        if validateOnly { return (.none, nil) }
        do {
            try changeTopic(name, in: membership) { current in
                var updated = current
                updated.configs = change(current.configs)
                return updated
            }
        } catch BrokerError.unknownTopic {
            return (.unknownTopicOrPartition, "Topic \(name) does not exist.")
        } catch {
            return (.requestTimedOut, "\(error)")
        }
        return (.none, nil)
    }

    /// AlterPartitionReassignments in a cluster: the target replicas come first in the
    /// partition's replicas, the added ones catch up as followers, and the ones to remove stay
    /// until the controller completes the move; nil cancels the reassignment under way (back to
    /// the replicas before it). Compare-and-swapped from the state as read, and in force here
    /// before the answer.
    func reassign(_ partition: TopicPartition, to target: [Int32]?, in membership: ClusterMembership) -> (ErrorCode, String?) {
        for _ in 0..<Self.compareAndSwapAttempts {
            guard let current = membership.partition(partition.topic, partition.partition) else {
                return (.unknownTopicOrPartition, "Unable to find partition \(partition.topic):\(partition.partition).")
            }
            let original = current.replicas.filter { !current.addingReplicas.contains($0) }
            var updated = current
            if let target {
                if target == original && !current.isReassigning { return (.none, nil) }
                updated.addingReplicas = target.filter { !original.contains($0) }
                updated.removingReplicas = original.filter { !target.contains($0) }
                updated.replicas = target + updated.removingReplicas
                updated.inSyncReplicas = current.inSyncReplicas.filter(updated.replicas.contains)
            } else {
                guard current.isReassigning else { return (.noReassignmentInProgress, "No partition reassignment is in progress.") }
                updated.replicas = original
                updated.addingReplicas = []
                updated.removingReplicas = []
                updated.inSyncReplicas = current.inSyncReplicas.filter(original.contains)
            }
            updated.partitionEpoch += 1
            do {
                if try storeChange({
                    try membership.store.update(partition.topic, partition: Int(partition.partition), from: current, to: updated)
                }) {
                    membership.awaitTopics {
                        (membership.partition(partition.topic, partition.partition)?.partitionEpoch ?? -1) >= updated.partitionEpoch
                    }
                    log(
                        "cluster: \(partition) reassigning to node(s) \(updated.replicas.filter { !updated.removingReplicas.contains($0) }.map(String.init).joined(separator: ", "))"
                    )
                    return (.none, nil)
                }
            } catch {
                return (.requestTimedOut, "\(error)")
            }
            membership.awaitTopics()
        }
        return (.requestTimedOut, "Partition \(partition) kept changing; try again.")
    }

    /// Replaces a topic in the store with what `change` makes of its current state (nil:
    /// nothing to do), reading it again when another change won the compare-and-swap.
    private func changeTopic(_ name: String, in membership: ClusterMembership, _ change: (ClusterTopic) -> ClusterTopic?) throws {
        for _ in 0..<Self.compareAndSwapAttempts {
            guard let current = membership.topic(named: name) else { throw BrokerError.unknownTopic(name) }
            guard let updated = change(current) else { return }
            let changed = try storeChange { try membership.store.update(current, to: updated) }
            membership.awaitTopics()
            if changed { return }
        }
        throw BrokerError.metadataUnavailable("topic \(name) kept changing; try again")
    }

    private static let compareAndSwapAttempts = 5

    /// A store operation, its failure turned into the retriable refusal clients are given.
    private func storeChange<T>(_ operation: () throws -> T) throws -> T {
        do {
            return try operation()
        } catch {
            throw BrokerError.metadataUnavailable("the cluster's metadata store cannot take the change now: \(error)")
        }
    }
}

extension Broker {
    /// In a cluster, whether another broker coordinates `groupId`: the leader of its partition
    /// of __consumer_offsets, as Kafka places group coordinators. Requests for it here get
    /// NOT_COORDINATOR and the client asks FindCoordinator again.
    func coordinatedElsewhere(group groupId: String) -> Bool {
        membership != nil && ledElsewhere(offsetsPartition(of: groupId)) != nil
    }

    /// The partition of __consumer_offsets that holds `groupId`.
    func offsetsPartition(of groupId: String) -> TopicPartition {
        TopicPartition(topic: OffsetsTopic.name, partition: groups.offsetsPartition(for: groupId))
    }

    /// The same for a transactional id and its partition of __transaction_state.
    func coordinatedElsewhere(transactionalId: String) -> Bool {
        membership != nil && ledElsewhere(transactionStatePartition(of: transactionalId)) != nil
    }

    /// Whether this broker is known to coordinate `transactionalId` (always without a cluster;
    /// in one, not while the cluster's __transaction_state has not been read here yet).
    func coordinatedHere(transactionalId: String) -> Bool {
        guard let membership else { return true }
        let partition = transactionStatePartition(of: transactionalId)
        return membership.partition(partition.topic, partition.partition)?.leader == configuration.nodeId
    }

    func transactionStatePartition(of transactionalId: String) -> TopicPartition {
        TopicPartition(topic: TransactionCoordinator.stateTopic, partition: transactions.statePartition(for: transactionalId))
    }
}
