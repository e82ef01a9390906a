// A follower's copy of one leader's partitions (Kafka's ReplicaFetcherThread): Fetch as a
// replica (its node id in ReplicaState) from each log's end, the batches appended with the
// leader's offsets, and the leader's high watermark taken. One thread per leader, each
// fetch long-polled so that a new append reaches the follower at once.

import KafkaClient
import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import Synchronization
import SystemCalls

final class FollowerFetcher: Sendable {
    let leader: Int32
    unowned let manager: ReplicaManager
    private let thread: WorkQueue
    private let running = Atomic(true)
    /// Set by the last round once asked to stop: the thread is idle and joins at once.
    private let ended = Atomic(false)
    /// Touched only on `thread`.
    private let connection = Mutex<ConnectionBox?>(nil)

    private final class ConnectionBox: @unchecked Sendable {
        let connection: BrokerConnection
        init(_ connection: BrokerConnection) { self.connection = connection }
    }

    /// How long past its wait a leader may take to answer before it counts as gone.
    static let answerMarginMilliseconds: Int32 = 2_500
    /// A pause after a failure, so that a leader that is gone is not asked in a loop.
    static let backoffMilliseconds = 200

    init(leader: Int32, manager: ReplicaManager) throws {
        self.leader = leader
        self.manager = manager
        thread = try WorkQueue(name: "swiftlet-fetch-\(leader)")
    }

    func start() { thread.execute { [self] in round() } }

    /// Asks the fetcher to end after its current round, without waiting for it (a fetch from
    /// a leader that died can take its whole timeout); `hasEnded` says when it has.
    func requestStop() { running.store(false, ordering: .relaxed) }

    var hasEnded: Bool { ended.load(ordering: .acquiring) }

    /// Stops and waits for the thread (a shutdown, or a fetcher that has ended).
    func stop() {
        requestStop()
        thread.stop()
    }

    /// One fetch, then the next.
    private func round() {
        guard running.load(ordering: .relaxed) else {
            ended.store(true, ordering: .releasing)
            return
        }
        let succeeded: Bool
        do {
            succeeded = try fetchOnce()
        } catch {
            connection.withLock { $0 = nil }
            manager.broker.logClientProblem("replication", "fetching from node \(leader): \(error)", level: .warning)
            succeeded = false
        }
        if !succeeded { System.sleep(milliseconds: Self.backoffMilliseconds) }
        thread.execute { [self] in round() }
    }

    /// False when there was nothing to fetch or the leader could not be asked.
    private func fetchOnce() throws -> Bool {
        let broker = manager.broker
        let followed = manager.partitions(followedFrom: leader).compactMap { partition in
            broker.logs.partition(partition.name).map { (partition, partition.current, $0) }
        }
        guard !followed.isEmpty, let connection = try leaderConnection() else { return false }
        let untruncated = followed.filter { !$0.1.truncated }
        if !untruncated.isEmpty { try truncateDivergentTails(untruncated, over: connection) }
        let partitions = followed.compactMap { partition, _, log in
            let state = partition.current
            return state.truncated && state.leader == leader ? (partition, state, log) : nil
        }
        guard !partitions.isEmpty else { return false }
        // The follower's node id: in ReplicaState from v15, in replica_id before.
        let version = try connection.version(of: FetchRequest.self)
        let nodeId = broker.configuration.nodeId
        let settings = broker.configuration.replicaFetch
        var request = FetchRequest(
            replicaId: version >= 15 ? -1 : nodeId, replicaState: .init(replicaId: version >= 15 ? nodeId : -1, replicaEpoch: -1),
            maxWaitMs: settings.waitMaximumMilliseconds, minBytes: settings.minimumBytes, maxBytes: settings.responseMaximumBytes)
        for (topic, entries) in Dictionary(grouping: partitions, by: { $0.0.name.topic }) {
            request.topics.append(
                .init(
                    topic: topic, topicId: broker.topics.topic(named: topic)?.topicId ?? .zero,
                    partitions: entries.map { partition, state, log in
                        .init(
                            partition: partition.name.partition, currentLeaderEpoch: state.leaderEpoch, fetchOffset: log.logEndOffset,
                            partitionMaxBytes: settings.maximumBytes)
                    }))
        }
        let response = try connection.send(request, version: version)
        guard response.errorCode == 0 else { throw ClientError("fetch refused: error \(response.errorCode)") }
        let now = System.wallClockMilliseconds()
        let asked = Dictionary(partitions.map { ($0.0.name, ($0.0, $0.1, $0.2)) }, uniquingKeysWith: { first, _ in first })
        for topic in response.responses {
            let name = topic.topic.isEmpty ? broker.topics.topic(id: topic.topicId)?.name : topic.topic
            for data in topic.partitions {
                guard let name, let (partition, state, log) = asked[TopicPartition(topic: name, partition: data.partitionIndex)]
                else { continue }
                if data.errorCode == ErrorCode.offsetOutOfRange.rawValue {
                    try partition.ifStill(state) { state in
                        if data.logStartOffset > log.logEndOffset {
                            // Below the leader's log start (away for longer than its retention):
                            // start over from there.
                            try log.truncateFully(startingAt: data.logStartOffset, now: now)
                            broker.log("cluster: \(partition.name) starts over at \(data.logStartOffset), node \(leader)'s log start")
                        } else {
                            // Past the leader's end in the same epoch (the leader restarted
                            // without an unflushed tail): compared again, and cut to its end.
                            state.truncated = false
                        }
                    }
                    continue
                }
                // Another error is a leader change under way: the next sync tells.
                guard data.errorCode == 0 else { continue }
                let whole = Self.wholeBatches(data.records?.bytes ?? [])
                // Not if the partition has changed leader or epoch since it was asked for.
                try partition.ifStill(state) { _ in
                    // Started over inside the leader's first batch (its log start lies within
                    // one): the log starts at that batch instead, as Kafka's follower does.
                    if let first = RecordBatchHeader(whole), log.logStartOffset == log.logEndOffset,
                        first.baseOffset < log.logEndOffset, first.lastOffset >= log.logEndOffset
                    {
                        try log.truncateFully(startingAt: first.baseOffset, now: now)
                    }
                    if !whole.isEmpty { _ = try log.appendAsFollower(whole, now: now) }
                    log.setHighWatermark(min(data.highWatermark, log.logEndOffset))
                }
            }
        }
        return true
    }

    /// KIP-101: before fetching in a new leader epoch, each log is cut where it parts from the
    /// leader's (the end, in the leader's log, of this log's latest epoch, from
    /// OffsetForLeaderEpoch), so that a tail the new leader never had does not survive. A
    /// partition the leader cannot answer for yet (it has not taken the epoch up) is asked
    /// again next round.
    private func truncateDivergentTails(
        _ partitions: [(FollowedPartition, FollowedPartition.State, PartitionLog)], over connection: BrokerConnection
    ) throws {
        let nodeId = manager.broker.configuration.nodeId
        var request = OffsetForLeaderEpochRequest(replicaId: nodeId)
        for (topic, entries) in Dictionary(grouping: partitions, by: { $0.0.name.topic }) {
            request.topics.append(
                .init(
                    topic: topic,
                    partitions: entries.map { partition, state, log in
                        .init(
                            partition: partition.name.partition, currentLeaderEpoch: state.leaderEpoch,
                            leaderEpoch: log.leaderEpochCache.latestEpoch ?? -1)
                    }))
        }
        // replica_id is in the request from v3.
        let (response, _) = try connection.send(request, within: 3...4)
        let asked = Dictionary(partitions.map { ($0.0.name, ($0.0, $0.1, $0.2)) }, uniquingKeysWith: { first, _ in first })
        for topic in response.topics {
            for answer in topic.partitions {
                guard answer.errorCode == 0,
                    let (partition, state, log) = asked[TopicPartition(topic: topic.topic, partition: answer.partition)]
                else { continue }
                try partition.ifStill(state) { state in
                    // Without a high watermark on record nothing here is known to be committed.
                    let highWatermark = log.replicationHighWatermark.map { _ in log.highWatermark } ?? log.logStartOffset
                    let cache = log.leaderEpochCache
                    let cut =
                        cache.latestEpoch == nil
                        ? (highWatermark < log.logEndOffset ? highWatermark : nil)
                        : cache.truncationOffset(
                            leaderAnswer: answer.leaderEpoch >= 0 ? (answer.leaderEpoch, answer.endOffset) : nil,
                            logEndOffset: log.logEndOffset, highWatermark: highWatermark)
                    if let cut {
                        try log.truncate(to: cut)
                        manager.broker.log(
                            "cluster: \(partition.name) truncated to \(cut) to follow node \(leader) in epoch \(state.leaderEpoch)")
                    }
                    state.truncated = true
                }
            }
        }
    }

    /// The connection to the leader, opened on first use and after a failure.
    private func leaderConnection() throws -> BrokerConnection? {
        guard let address = address() else { return nil }
        return try connection.withLock { box in
            if let box { return box.connection }
            let opened = ConnectionBox(
                try manager.broker.connectToBroker(
                    address, clientId: "swiftlet-replica-\(manager.broker.configuration.nodeId)",
                    timeoutMilliseconds: manager.broker.configuration.replicaFetch.waitMaximumMilliseconds + Self.answerMarginMilliseconds))
            box = opened
            return opened.connection
        }
    }

    /// The leader's address on the inter-broker listener, as its registration gives it.
    private func address() -> String? {
        let broker = manager.broker
        guard let endpoint = broker.membership?.brokers.first(where: { $0.nodeId == leader })?.endpoint(broker.interBrokerListener)
        else { return nil }
        return "\(endpoint.host):\(endpoint.port)"
    }

    /// The batches that arrived whole: a fetch may end in part of one (a size limit).
    static func wholeBatches(_ bytes: [UInt8]) -> [UInt8] {
        var end = 0
        while let header = RecordBatchHeader(bytes, at: end), header.hasPlausibleLength, end + header.totalSize <= bytes.count {
            end += header.totalSize
        }
        return end == bytes.count ? bytes : Array(bytes[..<end])
    }
}
