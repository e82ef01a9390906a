// Produce (key 0): appends each partition's batch to its log, as sent (no recompression),
// and answers with the base offset. acks=0 gets no response at all, and a failure then
// closes the connection so the client refreshes its metadata (Kafka's behaviour).

import Coordinators
import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import Synchronization
import SystemCalls

struct ProduceHandler: ApiHandler {
    typealias Request = ProduceRequest
    /// Kafka 4.x advertises v0 (librdkafka before 2.11 turns compression off otherwise,
    /// KAFKA-18659) but serves v3+; requests below v3 are closed as unsupported.
    let advertised: ClosedRange<Int16> = 0...13
    /// The client id of Kafka's own admin tools, the one client Kafka lets write internal topics.
    static let adminClientId = "__admin_client"

    /// Whether acks=all must be refused with NOT_ENOUGH_REPLICAS, before the append: Kafka's
    /// Partition.appendRecordsToLeader against its effectiveMinIsr, min.insync.replicas capped
    /// at the replica count (a topic cannot ask for more in-sync replicas than it has). With
    /// one replica it is always in sync, so Kafka 4.x, and Swiftlet, never refuse it.
    static func lacksInSyncReplicas(minimumInSync: Int32, replicas: Int32, inSync: Int32) -> Bool {
        inSync < min(minimumInSync, replicas)
    }

    func handle(_ request: ProduceRequest, _ context: RequestContext<ProduceRequest>) {
        let broker = context.broker
        let now = System.wallClockMilliseconds()
        var response = ProduceResponse()
        var failed = false
        var durableLogs: [PartitionLog] = []
        var awaited: [(wait: ReplicationWait.Awaited, topicIndex: Int, partitionIndex: Int)] = []
        let replicas = request.acks == -1 ? broker.replicas : nil
        guard [0, 1, -1].contains(request.acks) else {
            respondToAll(request, with: .invalidRequiredAcks, context: context)
            return
        }
        if let transactionalId = request.transactionalId, !context.authorized(.write, .transactionalId, transactionalId) {
            respondToAll(request, with: .transactionalIdAuthorizationFailed, context: context)
            return
        }
        // A transaction another broker coordinates is not verified here: that takes a request to
        // its coordinator (KIP-890's AddPartitionsToTxn verifyOnly), not sent yet.
        let verifiesTransaction = request.transactionalId.map { broker.coordinatedHere(transactionalId: $0) } ?? true
        for topicData in request.topicData {
            let topic = broker.topics.topic(named: topicData.name, id: topicData.topicId, byId: context.version >= 13)
            let writable = context.authorized(.write, .topic, topic?.name ?? topicData.name)
            var topicResponse = ProduceResponse.TopicProduceResponse(name: topicData.name, topicId: topicData.topicId)
            for partitionData in topicData.partitionData {
                var result = ProduceResponse.PartitionProduceResponse(index: partitionData.index, errorCode: 0, baseOffset: -1)
                let error: ErrorCode
                if (topic != nil || context.version < 13) && !writable {
                    error = .topicAuthorizationFailed
                } else if let topic, topic.isInternal, context.clientId != Self.adminClientId {
                    // Kafka's rule: only the coordinators (and Kafka's own admin tooling) write
                    // there; what they replay on start must be what they wrote.
                    error = .invalidTopicException
                    result.errorMessage = "Cannot append to internal topic \(topic.name)"
                } else if let topic, let state = broker.ledElsewhere(TopicPartition(topic: topic.name, partition: partitionData.index)) {
                    // KIP-951: the leader to go to, so that the client need not ask Metadata.
                    error = .notLeaderOrFollower
                    let leader = broker.currentLeader(state, listener: context.listener)
                    if context.version >= 10 { result.currentLeader = .init(leaderId: leader.id, leaderEpoch: leader.epoch) }
                    if context.version >= 10, let endpoint = leader.endpoint,
                        !response.nodeEndpoints.contains(where: { $0.nodeId == leader.id })
                    {
                        response.nodeEndpoints.append(.init(nodeId: leader.id, host: endpoint.host, port: endpoint.port))
                    }
                } else if let topic, let log = broker.logs.partition(TopicPartition(topic: topic.name, partition: partitionData.index)) {
                    // The configuration is read only for a replicated partition.
                    let counts = replicas?.replicaCounts(log.topicPartition)
                    if let counts, case let minimumInSync = log.currentConfiguration.minimumInSyncReplicas,
                        Self.lacksInSyncReplicas(minimumInSync: minimumInSync, replicas: counts.replicas, inSync: counts.inSync)
                    {
                        // Refused before the append, so the client's retry (the error is
                        // retriable) cannot duplicate anything.
                        error = .notEnoughReplicas
                        result.errorMessage =
                            "The size of the current ISR \(counts.inSync) is insufficient to satisfy the min.isr requirement of \(min(minimumInSync, counts.replicas)) for partition \(log.topicPartition)"
                    } else {
                        (error, result) = append(
                            partitionData, to: log, context: context, now: now, result: result, verifiesTransaction: verifiesTransaction)
                        if error == .none {
                            durableLogs.append(log)
                            if counts != nil {
                                awaited.append(
                                    (
                                        .init(
                                            partition: log.topicPartition, requiredOffset: log.logEndOffset,
                                            minimumInSync: log.currentConfiguration.minimumInSyncReplicas),
                                        response.responses.count, topicResponse.partitionResponses.count
                                    ))
                            }
                        }
                    }
                } else {
                    error = context.version >= 13 ? .unknownTopicId : .unknownTopicOrPartition
                }
                result.errorCode = error.rawValue
                failed = failed || error != .none
                if error != .none, let topic { context.metrics?.produceFailed(topic: topic.name) }
                topicResponse.partitionResponses.append(result)
            }
            response.responses.append(topicResponse)
        }
        // producer_byte_rate (KIP-219): the answer says how long to back off, and the
        // connection reads nothing more meanwhile.
        let produced = request.topicData.reduce(0) { $0 + $1.partitionData.reduce(0) { $0 + ($1.records?.count ?? 0) } }
        response.throttleTimeMs = context.throttle(bytes: produced, quota: "producer_byte_rate", now: now)
        if request.acks == 0 {
            if failed { context.responder.closeConnection() } else { context.responder.respondNothing() }
            return
        }
        // acks=all on replicated partitions: answered once their in-sync replicas have it.
        if let replicas, !awaited.isEmpty {
            let durable = durableLogs
            let pending = response
            ReplicationWait(
                broker: broker, loop: context.eventLoop, replicas: replicas, awaited: awaited.map(\.wait),
                timeoutMilliseconds: request.timeoutMs
            ) { outcomes in
                var acknowledged = pending
                for (entry, outcome) in zip(awaited, outcomes) {
                    acknowledged.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorCode = outcome.rawValue
                }
                Self.answer(acknowledged, acks: request.acks, durableLogs: durable, context: context)
            }.start()
            return
        }
        Self.answer(response, acks: request.acks, durableLogs: durableLogs, context: context)
    }

    /// Under the page-cache policies an append is as durable as it gets once written: answered
    /// now, without a hop through the fsync thread and the task queue; acks=all under
    /// fsync-per-append once the fsync thread has synced every log appended to.
    private static func answer(
        _ response: ProduceResponse, acks: Int16, durableLogs: [PartitionLog], context: RequestContext<ProduceRequest>
    ) {
        let broker = context.broker
        guard acks == -1, !durableLogs.isEmpty, broker.logs.flushPolicy == .everyAppend else {
            context.send(response)
            return
        }
        let remaining = Counter(durableLogs.count)
        for log in durableLogs {
            broker.logs.whenDurable(log) { _ in
                if remaining.decrement() == 0 { context.eventLoop.execute { context.send(response) } }
            }
        }
    }

    private func append(
        _ data: ProduceRequest.PartitionProduceData, to log: PartitionLog, context: RequestContext<ProduceRequest>, now: Int64,
        result: ProduceResponse.PartitionProduceResponse, verifiesTransaction: Bool
    ) -> (ErrorCode, ProduceResponse.PartitionProduceResponse) {
        let broker = context.broker
        let transactions = broker.transactions
        var result = result
        guard var records = data.records?.bytes, !records.isEmpty else { return (.corruptMessage, result) }
        // Kafka checks a batch's size, magic, CRC and count before what its fields say, so a
        // refusal read from the header first makes sure the header can be trusted: a batch
        // damaged on the way is CORRUPT_MESSAGE, whatever its bytes seem to say.
        func refusedByHeader(
            _ code: ErrorCode, _ message: String?,
            recordErrors: [ProduceResponse.BatchIndexAndErrorMessage] = []
        ) -> (ErrorCode, ProduceResponse.PartitionProduceResponse) {
            do {
                try RecordBatch(bytes: records).validate()
            } catch {
                return refuse(error, result, in: log.topicPartition)
            }
            var refusal = result
            refusal.errorMessage = message
            refusal.recordErrors = recordErrors
            return (code, refusal)
        }
        // The first batch's header, read once; the log validates every batch in full.
        if let header = RecordBatchHeader(records) {
            // Produce v3+ carries exactly one RecordBatch v2 per partition. The header's length
            // tells; only when bytes follow it are the rest walked.
            if header.hasPlausibleLength, header.totalSize < records.count,
                let batches = try? RecordBatch.batches(in: records), batches.count != 1
            {
                return (.invalidRecord, result)
            }
            // What only a broker may write, refused as Kafka's validateBatch refuses it:
            // transaction markers come from the coordinator, and a producer id needs a sequence.
            if header.isControl {
                return refusedByHeader(
                    .invalidRecord, "Clients are not allowed to write control records in topic partition \(log.topicPartition)")
            }
            if header.hasProducerId && header.baseSequence < 0 {
                return refusedByHeader(
                    .invalidRecord,
                    "Invalid sequence number \(header.baseSequence) in record batch with producerId \(header.producerId) in topic partition \(log.topicPartition)"
                )
            }
            if header.timestampType == .logAppendTime {
                // Kafka 4.x's validateTimestamp: on a LogAppendTime topic, or without a timestamp,
                // the broker's stamp cannot come from a client. On a CreateTime topic Kafka keeps
                // the batch as CreateTime.
                if log.currentConfiguration.timestampPolicy == .logAppendTime || header.maxTimestamp == -1 {
                    return refusedByHeader(
                        .invalidTimestamp, "One or more records have been rejected due to invalid timestamp",
                        recordErrors: (0..<min(max(header.recordCount, 1), Int32(PartitionLog.maximumListedRecordErrors))).map {
                            .init(
                                batchIndex: $0,
                                batchIndexErrorMessage:
                                    "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.")
                        })
                }
                // Rewritten only when intact: a new CRC must not hide a damaged batch.
                if (try? RecordBatch(bytes: records).validate()) != nil { RecordBatch.setCreateTime(in: &records, batchStart: 0) }
            }
            // A transactional batch must belong to a transaction of the producer's current
            // epoch that holds this partition (Kafka's partition verification): a zombie is
            // fenced, and no stray transactional write can hold the last stable offset back.
            if header.isTransactional && verifiesTransaction {
                let verdict = transactions.verify(
                    producerId: header.producerId, producerEpoch: header.producerEpoch, partition: log.topicPartition)
                if verdict != .none { return refusedByHeader(verdict, nil) }
            }
        }
        do {
            let appended = try log.append(records, leaderEpoch: broker.leaderEpoch(of: log.topicPartition), now: now)
            broker.storageFailures.succeeded("appending to the log")
            result.baseOffset = appended.baseOffset
            result.logAppendTimeMs = appended.logAppendTime
            result.logStartOffset = appended.logStartOffset
            context.metrics?.produced(
                topic: log.topicPartition.topic, messages: Int(appended.lastOffset - appended.baseOffset + 1), bytes: records.count)
            return (.none, result)
        } catch {
            result.logStartOffset = log.logStartOffset
            switch error {
            case .sequence(.invalidProducerEpoch): return (.invalidProducerEpoch, result)
            case .sequence(.outOfOrderSequence): return (.outOfOrderSequenceNumber, result)
            case .batchTooLarge: return (.messageTooLarge, result)
            case .invalidTimestamp: return (.invalidTimestamp, result)
            case .invalidBatch(_, .unsupportedMagic): return (.unsupportedForMessageFormat, result)
            case .invalidBatch(_, let reason): return refuse(reason, result, in: log.topicPartition)
            case .keylessRecords(let indexes):
                result.recordErrors = indexes.map {
                    .init(
                        batchIndex: $0,
                        batchIndexErrorMessage:
                            "Compacted topic cannot accept message without key in topic partition \(log.topicPartition).")
                }
                result.errorMessage = "One or more records have been rejected"
                return (.invalidRecord, result)
            default:
                broker.storageFailures.failed("appending to \(log.topicPartition)", error)
                return (.kafkaStorageError, result)
            }
        }
    }

    /// Kafka's codes for a batch it cannot take: a count its offsets or records contradict, or
    /// a compressed stream that ends early, is InvalidRecordException (clients do not retry
    /// it); a stream that does not decompress is Kafka's KafkaException, an unknown server
    /// error; a bad CRC is CORRUPT_MESSAGE (which clients retry: it may be the network's doing).
    private func refuse(
        _ reason: RecordBatchError, _ result: ProduceResponse.PartitionProduceResponse,
        in topicPartition: TopicPartition
    ) -> (ErrorCode, ProduceResponse.PartitionProduceResponse) {
        var result = result
        result.errorMessage = "\(reason) in topic partition \(topicPartition)"
        switch reason {
        case .recordCountMismatch, .invalidRecord, .compression(.truncated): return (.invalidRecord, result)
        case .compression(.tooLarge): return (.messageTooLarge, result)
        case .compression:
            result.errorMessage = "Failed to decompress record stream: \(reason) in topic partition \(topicPartition)"
            return (.unknownServerError, result)
        default: return (.corruptMessage, result)
        }
    }

    private func respondToAll(_ request: ProduceRequest, with error: ErrorCode, context: RequestContext<ProduceRequest>) {
        guard request.acks != 0 else {
            context.responder.closeConnection()
            return
        }
        let response = ProduceResponse(
            responses: request.topicData.map { topic in
                .init(
                    name: topic.name, topicId: topic.topicId,
                    partitionResponses: topic.partitionData.map {
                        .init(index: $0.index, errorCode: error.rawValue, baseOffset: -1)
                    })
            })
        context.send(response)
    }
}

/// A countdown shared by completions on other threads.
final class Counter: Sendable {
    private let value: Atomic<Int>
    init(_ start: Int) { value = Atomic(start) }
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}
