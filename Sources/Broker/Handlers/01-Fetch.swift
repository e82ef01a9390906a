// Fetch (key 1): records from the batch that holds each fetch offset, within max_bytes and
// partition_max_bytes (only the first batch of the first partition with data may exceed them,
// KIP-74), sent with sendfile straight
// from the segment files. With less than min_bytes available the request parks until an
// append to one of its partitions or max_wait_ms. Fetch sessions (KIP-227) let consumers
// send and receive only what changed.

import KafkaProtocol
import KafkaWire
import LogStorage
import Reactor
import SystemCalls

struct FetchHandler: ApiHandler {
    typealias Request = FetchRequest
    let advertised: ClosedRange<Int16> = 4...18

    func handle(_ request: FetchRequest, _ context: RequestContext<FetchRequest>) {
        let broker = context.broker
        // A replica's fetch moves high watermarks and the ISR: CLUSTER_ACTION, as Kafka asks.
        let replicaId = context.version >= 15 ? request.replicaState.replicaId : request.replicaId
        if replicaId >= 0 && !context.authorized(.clusterAction, .cluster, clusterResourceName) {
            return context.send(FetchResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, sessionId: 0))
        }
        let byId = context.version >= 13
        func resolve(name: String, id: Uuid) -> (String?, Uuid) {
            byId ? (broker.topics.topic(id: id)?.name, id) : (name, .zero)
        }
        var targets: [FetchTarget] = []
        for topic in request.topics {
            let (name, id) = resolve(name: topic.topic, id: topic.topicId)
            for partition in topic.partitions {
                targets.append(
                    FetchTarget(
                        name: name, topicId: id, partition: partition.partition,
                        fetchOffset: partition.fetchOffset, partitionMaxBytes: partition.partitionMaxBytes,
                        currentLeaderEpoch: partition.currentLeaderEpoch))
            }
        }
        var forgotten: [String] = []
        for topic in request.forgottenTopicsData {
            let (name, id) = resolve(name: topic.topic, id: topic.topicId)
            for partition in topic.partitions {
                forgotten.append(FetchTarget(name: name, topicId: id, partition: partition, fetchOffset: 0, partitionMaxBytes: 0).key)
            }
        }
        // Versions before 7 have no sessions: their defaults (id 0, epoch -1) mean none.
        let plan = broker.fetchSessions.plan(request, targets: targets, forgotten: forgotten)
        if case .error(let error) = plan {
            context.send(FetchResponse(errorCode: error.rawValue, sessionId: 0))
            return
        }
        // READ on each topic the fetch reads (a session's too, not only those this request
        // names, so a revoked ACL applies at once), checked once for the request.
        let denied = broker.authorizer == nil ? [] : Set(plan.targets.compactMap(\.name).filter { !context.authorized(.read, .topic, $0) })
        // A follower of the cluster (its node id in ReplicaState, or replica_id before v15)
        // reads up to the log end, and its fetch offset is its progress: what moves the high
        // watermark and brings it back into the ISR.
        let asReplica = replicaId >= 0 && broker.membership != nil && broker.liveBrokerIds.contains(replicaId)
        if asReplica, let replicas = broker.replicas {
            for target in plan.targets {
                guard let name = target.name else { continue }
                replicas.followerFetched(
                    TopicPartition(topic: name, partition: target.partition), replicaId: replicaId, fetchOffset: target.fetchOffset)
            }
        }
        FetchOperation(context: context, request: request, plan: plan, deniedTopics: denied, asReplica: asReplica)
            .attempt(final: request.maxWaitMs <= 0)
    }
}

/// One Fetch, possibly parked. Lives on its connection's event loop.
final class FetchOperation: @unchecked Sendable {
    // Touched only on `context.eventLoop` (wake-ups and the timer both run there).
    let context: RequestContext<FetchRequest>
    let request: FetchRequest
    let plan: FetchPlan
    private var done = false
    private var waiterId: UInt64?
    private var timer: UInt64?
    /// Counted among the loop's parked fetches until it finishes.
    private var parked = false
    private let partitions: [TopicPartition]
    /// Topics the principal may not READ: TOPIC_AUTHORIZATION_FAILED.
    private let deniedTopics: Set<String>
    /// A follower replica's fetch: up to the log end, not the high watermark.
    private let asReplica: Bool

    init(
        context: RequestContext<FetchRequest>, request: FetchRequest, plan: FetchPlan, deniedTopics: Set<String> = [],
        asReplica: Bool = false
    ) {
        self.context = context
        self.request = request
        self.plan = plan
        self.deniedTopics = deniedTopics
        self.asReplica = asReplica
        partitions = plan.targets.compactMap { target in target.name.map { TopicPartition(topic: $0, partition: target.partition) } }
    }

    func attempt(final: Bool) {
        context.eventLoop.preconditionInEventLoop()
        guard !done else { return }
        let results = plan.targets.map(read)
        let bytes = results.reduce(0) { $0 + ($1.region?.length ?? 0) }
        let hasError = results.contains { $0.data.errorCode != 0 }
        // A shutdown answers with what there is, rather than keep the broker waiting.
        if final || hasError || bytes >= Int(max(request.minBytes, 1)) || context.broker.isShuttingDown {
            finish(results)
            return
        }
        if waiterId == nil {
            if !parked {
                parked = true
                context.metrics?.parkedFetches += 1
            }
            waiterId = context.broker.fetchWaiters.park(on: partitions, loop: context.eventLoop) { [self] in
                waiterId = nil
                attempt(final: false)
            }
            timer = context.eventLoop.schedule(afterMilliseconds: Int(request.maxWaitMs)) { [self] in
                timer = nil
                attempt(final: true)
            }
            // A shutdown that began after the check above woke the fetches parked before this one.
            if context.broker.isShuttingDown { attempt(final: true) }
        }
    }

    private struct PartitionResult {
        var target: FetchTarget
        var data: FetchResponse.PartitionData
        var region: FileRegion?
        var firstBatchSize = 0
        var firstBatchOffset: Int64 = -1
        /// Where the read's whole batches end, when it was not cut at a byte limit.
        var endOffset: Int64?
        var log: PartitionLog?
        /// Where a partition led elsewhere is led.
        var leaderEndpoint: (nodeId: Int32, endpoint: BrokerRegistration.Endpoint)?
    }

    /// Reads one partition as of now. Byte budgets are applied in `finish`, in order.
    private func read(_ target: FetchTarget) -> PartitionResult {
        let broker = context.broker
        var data = FetchResponse.PartitionData(
            partitionIndex: target.partition, errorCode: 0, highWatermark: -1,
            abortedTransactions: request.isolationLevel == 1 ? [] : nil, records: [])
        if let name = target.name, deniedTopics.contains(name) {
            data.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            return PartitionResult(target: target, data: data, region: nil)
        }
        if let name = target.name, let state = broker.ledElsewhere(TopicPartition(topic: name, partition: target.partition)) {
            // KIP-951: the leader to go to; its endpoint is added to the response in `finish`.
            let leader = broker.currentLeader(state, listener: context.listener)
            data.errorCode = ErrorCode.notLeaderOrFollower.rawValue
            if context.version >= 12 { data.currentLeader = .init(leaderId: leader.id, leaderEpoch: leader.epoch) }
            return PartitionResult(target: target, data: data, region: nil, leaderEndpoint: leader.endpoint.map { (leader.id, $0) })
        }
        guard let name = target.name, let log = broker.logs.partition(TopicPartition(topic: name, partition: target.partition)) else {
            data.errorCode = (context.version >= 13 ? ErrorCode.unknownTopicId : .unknownTopicOrPartition).rawValue
            return PartitionResult(target: target, data: data, region: nil)
        }
        // KIP-320: a reader that knows another leader epoch than ours is behind (fenced) or
        // ahead of this broker (which has not taken the new epoch up yet).
        if target.currentLeaderEpoch >= 0 {
            let leaderEpoch = broker.leaderEpoch(of: log.topicPartition)
            if target.currentLeaderEpoch != leaderEpoch {
                data.errorCode = (target.currentLeaderEpoch > leaderEpoch ? ErrorCode.unknownLeaderEpoch : .fencedLeaderEpoch).rawValue
                return PartitionResult(target: target, data: data, region: nil)
            }
        }
        do {
            // Up to the partition's own limit here; the response limit is applied in order.
            // read_committed stops at the last stable offset and names the aborted
            // transactions in range, whose records the consumer drops.
            let readCommitted = request.isolationLevel == 1
            let read = try log.read(
                from: target.fetchOffset, maxBytes: Int(max(target.partitionMaxBytes, 0)), minOneBatch: true,
                readCommitted: readCommitted, asReplica: asReplica)
            data.highWatermark = read.highWatermark
            data.lastStableOffset = read.lastStableOffset
            data.logStartOffset = read.logStartOffset
            if readCommitted {
                data.abortedTransactions = read.abortedTransactions.map { .init(producerId: $0.producerId, firstOffset: $0.firstOffset) }
            }
            let region = read.regions.first.map {
                FileRegion(descriptor: $0.file.descriptor, offset: $0.position, length: $0.length, owner: $0.file)
            }
            return PartitionResult(
                target: target, data: data, region: region, firstBatchSize: read.firstBatchSize, firstBatchOffset: read.firstBatchOffset,
                endOffset: read.endOffset, log: log)
        } catch {
            let outOfRange = if case LogError.offsetOutOfRange = error { true } else { false }
            data.errorCode = (outOfRange ? ErrorCode.offsetOutOfRange : .kafkaStorageError).rawValue
            data.highWatermark = log.highWatermark
            data.lastStableOffset = log.lastStableOffset
            data.logStartOffset = log.logStartOffset
            return PartitionResult(target: target, data: data, region: nil)
        }
    }

    private func finish(_ results: [PartitionResult]) {
        done = true
        if parked { context.metrics?.parkedFetches -= 1 }
        if let waiterId { context.broker.fetchWaiters.cancel(waiterId, partitions: partitions) }
        if let timer { context.eventLoop.cancelTimer(timer) }
        let sessions = context.broker.fetchSessions
        let (sessionId, incremental): (Int32, Bool) =
            switch plan {
            case .full(let id, _): (id, false)
            case .incremental(let id, _): (id, true)
            default: (0, false)
            }
        var response = FetchResponse(errorCode: 0, sessionId: sessionId)
        var regions: [FileRegion] = []
        var remaining = Int(max(request.maxBytes, 0))
        var sent: [(key: String, sent: FetchSessionCache.Sent)] = []
        for var result in results {
            // Kafka's ReplicaManager.readFromLog: each partition reads within the smaller of its
            // own limit and what is left of max_bytes; the first partition with data gets its
            // first batch whole (KIP-74), a later one whose first batch does not fit gets none.
            if var region = result.region {
                let allowed = ReadResult.length(
                    available: region.length, firstBatchSize: result.firstBatchSize,
                    maxBytes: min(remaining, Int(max(result.target.partitionMaxBytes, 0))), minOneBatch: regions.isEmpty)
                if allowed > 0 {
                    // Kafka's BytesOut leaves replication out; records out are counted by the
                    // offsets of the whole batches sent, past the fetch offset.
                    if let metrics = context.metrics, !asReplica, let log = result.log {
                        // Sent whole, the read's end is known; cut, the batch headers near the cut tell.
                        let next =
                            allowed == region.length && result.endOffset != nil
                            ? result.endOffset : log.offsetAfterWholeBatches(readFrom: result.firstBatchOffset, length: allowed)
                        let records = next.map { Int(max(0, $0 - max(result.target.fetchOffset, result.firstBatchOffset))) } ?? 0
                        metrics.fetched(topic: result.target.name ?? "", records: records, bytes: allowed)
                    }
                    region = FileRegion(descriptor: region.descriptor, offset: region.offset, length: allowed, owner: region.owner)
                    result.data.records = .external(length: allowed, id: regions.count)
                    regions.append(region)
                    remaining = max(0, remaining - allowed)
                }
            }
            let now = FetchSessionCache.Sent(highWatermark: result.data.highWatermark, logStartOffset: result.data.logStartOffset)
            if incremental && result.data.errorCode == 0 && result.data.records?.count == 0
                && sessions.lastSent(sessionId: sessionId, key: result.target.key) == now
            {
                continue  // unchanged: an incremental response leaves it out
            }
            sent.append((result.target.key, now))
            if context.version >= 16, let leader = result.leaderEndpoint,
                !response.nodeEndpoints.contains(where: { $0.nodeId == leader.nodeId })
            {
                response.nodeEndpoints.append(.init(nodeId: leader.nodeId, host: leader.endpoint.host, port: leader.endpoint.port))
            }
            // Counted for topics that exist only: a client's made-up names would grow the counters.
            if result.data.errorCode != 0, let name = result.target.name, context.broker.topics.topic(named: name) != nil {
                context.metrics?.fetchFailed(topic: name)
            }
            let topicName = result.target.name ?? ""
            if let last = response.responses.last, last.topic == topicName, last.topicId == result.target.topicId {
                response.responses[response.responses.count - 1].partitions.append(result.data)
            } else {
                response.responses.append(.init(topic: topicName, topicId: result.target.topicId, partitions: [result.data]))
            }
        }
        if sessionId != 0 { sessions.recordSent(sessionId: sessionId, sent) }
        // consumer_byte_rate (KIP-219): the answer says how long to back off, and the
        // connection reads nothing more meanwhile.
        response.throttleTimeMs = context.throttle(
            bytes: regions.reduce(0) { $0 + $1.length }, quota: "consumer_byte_rate", now: System.wallClockMilliseconds())
        context.send(response, regions: regions)
    }
}
