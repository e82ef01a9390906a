// A cluster member's replicated partitions (more than one replica), as Kafka's ReplicaManager:
// as a leader it tracks each follower's fetches (PartitionReplication), moves the high
// watermark and proposes ISR changes to the metadata store; as a follower it copies its
// leaders' logs (FollowerFetcher, one per leader). The controller also elects new leaders
// here for partitions whose leader's broker is gone.

import KafkaProtocol
import KafkaWire
import LogStorage
import Logging
import Reactor
import Synchronization
import SystemCalls

final class ReplicaManager: Sendable {
    unowned let broker: Broker
    private var nodeId: Int32 { broker.configuration.nodeId }

    /// A partition led here: its followers' progress, for the leader epoch it was taken in.
    private struct Led {
        var replication: PartitionReplication
        var leaderEpoch: Int32
    }

    private let leading = Mutex<[TopicPartition: Led]>([:])
    /// Partitions followed here.
    private let following = Mutex<[TopicPartition: FollowedPartition]>([:])
    private let fetchers = Mutex<[Int32: FollowerFetcher]>([:])
    /// Fetchers of leaders no longer followed, asked to stop, joined once their round ends.
    private let retiring = Mutex<[FollowerFetcher]>([])
    /// ISR proposals, the lag check and the controller's elections, off the event loops.
    private let work: WorkQueue
    private let stopped = Atomic(false)
    /// The broker's event loops: where a replication wait asked for off a loop runs, in turn.
    let loops: [EventLoop]
    let loopTurn = Atomic<Int>(0)

    init(broker: Broker, loops: [EventLoop]) throws {
        self.broker = broker
        self.loops = loops
        work = try WorkQueue(name: "swiftlet-replicas")
        let interval = max(100, broker.configuration.replicaLagTimeMaximumMilliseconds / 4)
        work.every(milliseconds: interval) { [self] in shrinkLaggingReplicas() }
        work.every(milliseconds: ClusterMembership.topicPollMilliseconds) { [self] in
            fenceBrokersThatRefuseConnections()
            electLeadersOfDeadBrokers()
            completeReassignments()
            joinEndedFetchers()
        }
        if broker.configuration.autoLeaderRebalance {
            work.every(milliseconds: broker.configuration.leaderImbalanceCheckIntervalMilliseconds) { [self] in rebalanceLeadership() }
        }
        work.every(milliseconds: Self.checkpointIntervalMilliseconds) { [self] in checkpointHighWatermarks() }
    }

    /// Kafka's replica.high.watermark.checkpoint.interval.ms.
    static let checkpointIntervalMilliseconds = 5_000

    private func checkpointHighWatermarks() {
        let names = Array(leading.withLock { $0.keys }) + Array(following.withLock { $0.keys })
        for name in names {
            do {
                try broker.logs.partition(name)?.checkpointHighWatermark()
            } catch {
                broker.logger.warning("cluster: checkpointing the high watermark of \(name): \(error)")
            }
        }
    }

    static func now() -> Int64 { Int64(System.monotonicNanoseconds() / 1_000_000) }

    // MARK: Following the cluster's partition states

    /// Takes the partition states the broker synced: leads, follows or lets go of each
    /// replicated partition this broker has a replica of.
    func apply(_ topics: [ClusterTopic]) {
        var led: [TopicPartition: PartitionState] = [:]
        var followed: [TopicPartition: (leader: Int32, leaderEpoch: Int32)] = [:]
        for topic in topics {
            for (index, state) in topic.partitions.enumerated() where state.replicas.contains(nodeId) {
                let name = TopicPartition(topic: topic.name, partition: Int32(index))
                guard let log = broker.logs.partition(name) else { continue }
                if state.replicas.count == 1 {
                    log.setHighWatermark(nil)
                } else if state.leader == nodeId {
                    led[name] = state
                } else if state.leader >= 0 {
                    followed[name] = (state.leader, state.leaderEpoch)
                }
            }
        }
        let lag = Int64(broker.configuration.replicaLagTimeMaximumMilliseconds)
        var takenOver: [TopicPartition] = []
        var given: [TopicPartition] = []
        let highWatermarks = leading.withLock { leading -> [(PartitionLog, Int64)] in
            given = leading.keys.filter { led[$0] == nil }
            leading = leading.filter { led[$0.key] != nil }
            var moved: [(PartitionLog, Int64)] = []
            for (name, state) in led {
                guard let log = broker.logs.partition(name) else { continue }
                if var current = leading[name], current.leaderEpoch == state.leaderEpoch {
                    current.replication.apply(replicas: state.replicas, now: Self.now())
                    current.replication.apply(inSyncReplicas: Set(state.inSyncReplicas))
                    leading[name] = current
                    moved.append((log, current.replication.highWatermark))
                } else {
                    // Taking over: from this log's end and the high watermark it knew.
                    let replication = PartitionReplication(
                        leaderId: nodeId, replicas: state.replicas, inSyncReplicas: Set(state.inSyncReplicas),
                        logEndOffset: log.logEndOffset, highWatermark: log.highWatermark, replicaLagMaximumMilliseconds: lag,
                        now: Self.now())
                    log.becomeLeader(epoch: state.leaderEpoch)
                    leading[name] = Led(replication: replication, leaderEpoch: state.leaderEpoch)
                    moved.append((log, replication.highWatermark))
                    takenOver.append(name)
                    broker.log("cluster: leading \(name) in epoch \(state.leaderEpoch)")
                }
            }
            return moved
        }
        for (log, highWatermark) in highWatermarks { log.setHighWatermark(highWatermark) }
        // acks=all requests waiting on a leadership now gone are answered NOT_LEADER_OR_FOLLOWER
        // at once rather than at their timeout.
        for name in given { broker.fetchWaiters.wake(name) }
        var newlyFollowed: [TopicPartition] = []
        following.withLock { following in
            for (name, gone) in following where followed[name] == nil {
                gone.follow(leader: -1, leaderEpoch: -1)
                following[name] = nil
            }
            for (name, leader) in followed {
                // A new leader, or a new epoch of it: the fetcher first finds where this log
                // and the leader's part (FollowerFetcher.truncateDivergentTails).
                if let partition = following[name] {
                    if partition.follow(leader: leader.leader, leaderEpoch: leader.leaderEpoch) { newlyFollowed.append(name) }
                } else {
                    following[name] = FollowedPartition(name: name, leader: leader.leader, leaderEpoch: leader.leaderEpoch)
                    newlyFollowed.append(name)
                }
            }
        }
        broker.coordinatorLeadershipChanged(gained: takenOver, lost: newlyFollowed)
        let leaders = Set(followed.values.map(\.leader))
        let (started, ended) = fetchers.withLock { fetchers -> ([FollowerFetcher], [FollowerFetcher]) in
            let ended = fetchers.filter { !leaders.contains($0.key) }.map(\.value)
            fetchers = fetchers.filter { leaders.contains($0.key) }
            var started: [FollowerFetcher] = []
            for leader in leaders where fetchers[leader] == nil && !stopped.load(ordering: .relaxed) {
                if let fetcher = try? FollowerFetcher(leader: leader, manager: self) {
                    fetchers[leader] = fetcher
                    started.append(fetcher)
                }
            }
            return (started, ended)
        }
        for fetcher in ended { fetcher.requestStop() }
        retiring.withLock { $0 += ended }
        for fetcher in started { fetcher.start() }
    }

    /// The partitions followed from `leader`.
    func partitions(followedFrom leader: Int32) -> [FollowedPartition] {
        following.withLock { following in following.values.filter { $0.current.leader == leader } }
    }

    // MARK: As the leader

    /// Whether this broker leads `partition` with followers to wait for.
    func isReplicated(_ partition: TopicPartition) -> Bool { leading.withLock { $0[partition] != nil } }

    /// The leader appended up to `logEndOffset`.
    func leaderAppended(_ partition: TopicPartition, logEndOffset: Int64) {
        let highWatermark = leading.withLock { leading -> Int64? in
            leading[partition]?.replication.leaderAppended(logEndOffset: logEndOffset)
            return leading[partition]?.replication.highWatermark
        }
        if let highWatermark { broker.logs.partition(partition)?.setHighWatermark(highWatermark) }
    }

    /// A follower fetched `partition` from `fetchOffset`: its progress, the high watermark,
    /// and its return to the ISR once caught up. False when this broker does not lead it.
    @discardableResult
    func followerFetched(_ partition: TopicPartition, replicaId: Int32, fetchOffset: Int64) -> Bool {
        let outcome = leading.withLock { leading -> (highWatermark: Int64, rejoins: Bool)? in
            guard var led = leading[partition] else { return nil }
            let rejoins = led.replication.followerFetched(replicaId, fetchOffset: fetchOffset, now: Self.now())
            leading[partition] = led
            return (led.replication.highWatermark, rejoins)
        }
        guard let outcome else { return false }
        broker.logs.partition(partition)?.setHighWatermark(outcome.highWatermark)
        if outcome.rejoins {
            work.execute { [self] in changeInSyncReplicas(of: partition) { $0.union([replicaId]) } }
        }
        return true
    }

    /// A replicated partition led here: how many replicas it has and how many are in sync
    /// (what acks=all checks against min.insync.replicas); nil for any other.
    func replicaCounts(_ partition: TopicPartition) -> (replicas: Int32, inSync: Int32)? {
        leading.withLock { leading in
            leading[partition].map { led in
                (Int32(led.replication.followers.count + 1), Int32(led.replication.inSyncReplicas.count))
            }
        }
    }

    /// An acks=all append ending before `requiredOffset`: nil while the ISR has not all of it;
    /// NOT_LEADER_OR_FOLLOWER once this broker no longer leads the partition.
    func acknowledgement(_ partition: TopicPartition, requiredOffset: Int64, minimumInSyncReplicas: Int32) -> ErrorCode? {
        leading.withLock { leading in
            guard let led = leading[partition] else { return .notLeaderOrFollower }
            let replicas = led.replication.followers.count + 1
            return led.replication.acknowledgement(
                requiredOffset: requiredOffset, minimumInSyncReplicas: min(Int(minimumInSyncReplicas), replicas))
        }
    }

    /// replica.lag.time.max.ms: followers that have not caught up for that long leave the ISR.
    private func shrinkLaggingReplicas() {
        let now = Self.now()
        let lagging = leading.withLock { leading in
            leading.compactMap { name, led -> (TopicPartition, Set<Int32>)? in
                let lagging = led.replication.laggingReplicas(now: now)
                return lagging.isEmpty ? nil : (name, lagging)
            }
        }
        for (name, replicas) in lagging {
            broker.log("cluster: \(name): node(s) \(replicas.sorted().map(String.init).joined(separator: ", ")) leave the ISR (lagging)")
            changeInSyncReplicas(of: name) { $0.subtracting(replicas) }
        }
    }

    /// Kafka's AlterPartition: the ISR changed in the store by compare-and-swap from the state
    /// this broker leads in, then read back.
    private func changeInSyncReplicas(of partition: TopicPartition, _ change: (Set<Int32>) -> Set<Int32>) {
        guard let membership = broker.membership, !membership.isFenced,
            let state = membership.partition(partition.topic, partition.partition), state.leader == nodeId
        else { return }
        var updated = state
        let isr = change(Set(state.inSyncReplicas)).union([nodeId])
        updated.inSyncReplicas = state.replicas.filter(isr.contains)
        guard updated.inSyncReplicas != state.inSyncReplicas else { return }
        updated.partitionEpoch += 1
        do {
            _ = try membership.store.update(partition.topic, partition: Int(partition.partition), from: state, to: updated)
            membership.refreshTopicsSoon()
        } catch {
            broker.logger.warning("cluster: ISR change of \(partition): \(error)")
        }
    }

    // MARK: As the controller

    /// The controller acts on brokers whose registration is gone, as Kafka's controller on a
    /// fenced broker: each partition it led gets a new leader from its live in-sync replicas
    /// in a new leader epoch (from any live replica only where unclean.leader.election.enable
    /// says so), or stays offline until one returns; it leaves every other ISR at once, so that
    /// acks=all does not wait replica.lag.time.max.ms for it.
    private func electLeadersOfDeadBrokers() {
        guard let membership = broker.membership, membership.controllerId == nodeId, !membership.isFenced else { return }
        let live = Set(membership.brokers.map(\.nodeId))
        let changed = changePartitions(in: membership) { topic, _, state in
            guard state.replicas.count > 1 else { return nil }
            var updated = state
            updated.inSyncReplicas = state.inSyncReplicas.filter(live.contains)
            if !live.contains(state.leader) {
                switch LeaderElection.offline(unclean: allowsUncleanElection(topic)).elect(updated, live: live) {
                case .success(let elected): updated = elected
                case .failure:
                    // No one can take over: offline, the ISR keeping its leader, which leads
                    // again when it returns (Kafka keeps the last in-sync replica too).
                    updated.inSyncReplicas = state.inSyncReplicas.filter { live.contains($0) || $0 == state.leader }
                }
            }
            return updated == state ? nil : updated
        }
        for (name, before, after) in changed where after.leader != before.leader {
            let unclean = !before.inSyncReplicas.contains(after.leader) ? " (unclean: it was not in sync)" : ""
            broker.log("cluster: \(name): node \(after.leader) elected leader in epoch \(after.leaderEpoch)\(unclean)")
        }
        if !changed.isEmpty { membership.refreshTopicsSoon() }
    }

    /// The controller ends the registration of a broker whose port refuses connections (see
    /// DeadBrokerDetector), so that its partitions are elected for now, not a session later;
    /// the other brokers look at the controller the same way, so that a new one takes over.
    private func fenceBrokersThatRefuseConnections() {
        guard let membership = broker.membership, !membership.isFenced else { return }
        let controller = membership.controllerId
        let others = membership.brokers.filter {
            $0.nodeId != nodeId && $0.lease != 0 && (controller == nodeId || $0.nodeId == controller)
        }
        let dead = DeadBrokerDetector.refusing(others, listener: broker.interBrokerListener)
        guard !dead.isEmpty else { return }
        for registration in dead {
            do {
                try membership.store.deregister(lease: registration.lease)
                broker.log("cluster: node \(registration.nodeId) refuses connections (its process is gone): registration ended")
            } catch {
                broker.logger.warning("cluster: ending the registration of node \(registration.nodeId): \(error)")
            }
        }
        membership.refresh()
    }

    /// The controller completes each reassignment whose added replicas are all in sync: the
    /// removed ones leave the replicas and the ISR, and a leader among them hands over to the
    /// first in-sync replica of the target (Kafka's PartitionReassignmentReplicas.isComplete).
    private func completeReassignments() {
        guard let membership = broker.membership, membership.controllerId == nodeId, !membership.isFenced else { return }
        let live = Set(membership.brokers.map(\.nodeId))
        let changed = changePartitions(in: membership) { _, _, state in
            guard state.isReassigning, state.addingReplicas.allSatisfy(state.inSyncReplicas.contains) else { return nil }
            var completed = state
            completed.replicas = state.replicas.filter { !state.removingReplicas.contains($0) }
            completed.inSyncReplicas = state.inSyncReplicas.filter { !state.removingReplicas.contains($0) }
            completed.addingReplicas = []
            completed.removingReplicas = []
            if !completed.replicas.contains(state.leader) {
                guard let leader = completed.replicas.first(where: { live.contains($0) && completed.inSyncReplicas.contains($0) })
                else { return nil }
                completed.leader = leader
                completed.leaderEpoch += 1
            }
            return completed
        }
        for (name, _, after) in changed {
            broker.log("cluster: \(name) reassigned to node(s) \(after.replicas.map(String.init).joined(separator: ", "))")
        }
        if !changed.isEmpty { membership.refreshTopicsSoon() }
    }

    /// unclean.leader.election.enable: the topic's override, else the broker's.
    private func allowsUncleanElection(_ topic: ClusterTopic) -> Bool {
        topic.configs["unclean.leader.election.enable"].map { $0.lowercased() == "true" }
            ?? broker.configuration.uncleanLeaderElection
    }

    /// auto.leader.rebalance.enable: the controller moves leadership back to preferred
    /// replicas (a restarted broker's, once it is in sync again) for every broker whose share
    /// of its preferred partitions led elsewhere is over leader.imbalance.per.broker.percentage.
    private func rebalanceLeadership() {
        guard broker.configuration.autoLeaderRebalance, let membership = broker.membership, membership.controllerId == nodeId,
            !membership.isFenced, let topics = try? membership.store.topics()
        else { return }
        let live = Set(membership.brokers.map(\.nodeId))
        var preferred: [Int32: (partitions: Int, ledElsewhere: Int)] = [:]
        for topic in topics {
            for state in topic.partitions where state.replicas.count > 1 {
                let first = state.replicas[0]
                preferred[first, default: (0, 0)].partitions += 1
                if state.leader != first { preferred[first, default: (0, 0)].ledElsewhere += 1 }
            }
        }
        let percentage = broker.configuration.leaderImbalancePerBrokerPercentage
        let imbalanced = Set(
            preferred.filter { $0.value.ledElsewhere * 100 > $0.value.partitions * percentage }.keys)
        guard !imbalanced.isEmpty else { return }
        let changed = changePartitions(in: membership) { _, _, state in
            guard let first = state.replicas.first, imbalanced.contains(first), state.replicas.count > 1,
                case .success(let elected) = LeaderElection.preferred.elect(state, live: live)
            else { return nil }
            return elected
        }
        if !changed.isEmpty {
            broker.log("cluster: leadership of \(changed.count) partition(s) moved back to their preferred replicas")
            membership.refreshTopicsSoon()
        }
    }

    /// ElectLeaders: `election` for each of `partitions` (nil: every partition of the cluster,
    /// answering only those where an election was needed), compare-and-swapped in the store.
    func elect(
        _ election: LeaderElection, _ partitions: [TopicPartition]?, in membership: ClusterMembership
    ) -> [(TopicPartition, Result<PartitionState, ElectionRefusal>)] {
        let live = Set(membership.brokers.map(\.nodeId))
        var wanted = partitions.map(Set.init)
        var outcomes: [TopicPartition: Result<PartitionState, ElectionRefusal>] = [:]
        // A partition whose state changed between the read and the compare-and-swap is elected
        // again from its new state, a few times at most.
        for _ in 0..<Self.electionAttempts {
            var proposed: Set<TopicPartition> = []
            let changed = changePartitions(in: membership) { _, name, state in
                guard wanted?.contains(name) ?? true else { return nil }
                let outcome = election.elect(state, live: live)
                outcomes[name] = outcome
                guard case .success(let elected) = outcome else { return nil }
                proposed.insert(name)
                return elected
            }
            for (name, _, after) in changed {
                outcomes[name] = .success(after)
                proposed.remove(name)
            }
            if !changed.isEmpty { membership.refreshTopicsSoon() }
            for name in proposed { outcomes[name] = .failure(.raced) }
            guard !proposed.isEmpty else { break }
            wanted = proposed
        }
        return outcomes.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }.map { ($0.key, $0.value) }
    }

    static let electionAttempts = 3

    /// Kafka's controlled shutdown, before this broker leaves: each replicated partition it
    /// leads moves to another live in-sync replica in a new leader epoch, and it leaves the
    /// ISR of the others, so that clients move on now rather than when its lease ends. A
    /// partition with no one to take over stays as it is.
    func moveLeadershipAway(in membership: ClusterMembership) {
        let others = Set(membership.brokers.map(\.nodeId)).subtracting([nodeId])
        let changed = changePartitions(in: membership) { _, _, state in
            guard state.replicas.count > 1, state.inSyncReplicas.contains(nodeId) else { return nil }
            var updated = state
            updated.inSyncReplicas = state.inSyncReplicas.filter { $0 != nodeId }
            if state.leader == nodeId {
                guard let successor = updated.inSyncReplicas.first(where: others.contains) else { return nil }
                updated.leader = successor
                updated.leaderEpoch += 1
            }
            return updated
        }
        let moved = changed.filter { $0.after.leader != $0.before.leader }.count
        if moved > 0 { broker.log("cluster: controlled shutdown moved the leadership of \(moved) partition(s)") }
    }

    /// Every partition in the store that `change` gives a new state (nil: left alone) is
    /// compare-and-swapped to it with the next partition epoch; the changes the store took.
    private func changePartitions(
        in membership: ClusterMembership, _ change: (ClusterTopic, TopicPartition, PartitionState) -> PartitionState?
    ) -> [(name: TopicPartition, before: PartitionState, after: PartitionState)] {
        var taken: [(name: TopicPartition, before: PartitionState, after: PartitionState)] = []
        for topic in (try? membership.store.topics()) ?? [] {
            for (index, state) in topic.partitions.enumerated() {
                guard var updated = change(topic, TopicPartition(topic: topic.name, partition: Int32(index)), state) else { continue }
                updated.partitionEpoch += 1
                if (try? membership.store.update(topic.name, partition: index, from: state, to: updated)) == true {
                    taken.append((TopicPartition(topic: topic.name, partition: Int32(index)), state, updated))
                }
            }
        }
        return taken
    }

    private func joinEndedFetchers() {
        let ended = retiring.withLock { retiring in
            defer { retiring.removeAll { $0.hasEnded } }
            return retiring.filter(\.hasEnded)
        }
        for fetcher in ended { fetcher.stop() }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        work.stop()
        let all =
            fetchers.withLock { fetchers in
                defer { fetchers = [:] }
                return Array(fetchers.values)
            }
            + retiring.withLock { retiring in
                defer { retiring = [] }
                return retiring
            }
        for fetcher in all { fetcher.requestStop() }
        for fetcher in all { fetcher.stop() }
    }
}
