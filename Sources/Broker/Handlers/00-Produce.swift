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
    let apiKey = ApiKey.produce
    /// Kafka 4.x advertises v0 (librdkafka before 2.11 turns compression off otherwise,
    /// KAFKA-18659) but serves v3+; requests below v3 are closed as unsupported.
    let advertised: ClosedRange<Int16> = 0...13
    /// The client id of Kafka's own admin tools, the one client Kafka lets write internal topics.
    static let adminClientId = "__admin_client"
    /// The most record errors one partition's answer lists.
    static let maximumRecordErrors = 1_000

    func handle(_ context: RequestContext) {
        let request = context.request.body as! ProduceRequest
        let broker = context.broker
        let now = System.wallClockMilliseconds()
        var response = ProduceResponse()
        var failed = false
        var durableLogs: [PartitionLog] = []
        guard [0, 1, -1].contains(request.acks) else {
            respondToAll(request, with: .invalidRequiredAcks, context: context)
            return
        }
        for topicData in request.topicData {
            let topic = broker.topics.topic(named: topicData.name, id: topicData.topicId, byId: context.version >= 13)
            var topicResponse = ProduceResponse.TopicProduceResponse(name: topicData.name, topicId: topicData.topicId)
            for partitionData in topicData.partitionData {
                var result = ProduceResponse.PartitionProduceResponse(index: partitionData.index, errorCode: 0, baseOffset: -1)
                let error: ErrorCode
                if let topic, topic.isInternal, context.clientId != Self.adminClientId {
                    // Kafka's rule: only the coordinators (and Kafka's own admin tooling) write
                    // there; what they replay on start must be what they wrote.
                    error = .invalidTopicException
                    result.errorMessage = "Cannot append to internal topic \(topic.name)"
                } else if let topic, let log = broker.logs.partition(TopicPartition(topic: topic.name, partition: partitionData.index)) {
                    (error, result) = append(partitionData, to: log, transactions: broker.transactions, now: now, result: result)
                    if error == .none { durableLogs.append(log) }
                } else {
                    error = context.version >= 13 ? .unknownTopicId : .unknownTopicOrPartition
                }
                result.errorCode = error.rawValue
                failed = failed || error != .none
                topicResponse.partitionResponses.append(result)
            }
            response.responses.append(topicResponse)
        }
        if request.acks == 0 {
            if failed { context.responder.closeConnection() } else { context.responder.respondNothing() }
            return
        }
        // Under the page-cache policies an append is as durable as it gets once written:
        // answer now, without a hop through the fsync thread and the task queue.
        guard request.acks == -1, !durableLogs.isEmpty, broker.logs.flushPolicy == .everyAppend else {
            context.send(response)
            return
        }
        // acks=all: under fsync-per-append, answer once the fsync thread has synced them all.
        let remaining = Counter(durableLogs.count)
        let send = context
        let finished = response
        for log in durableLogs {
            broker.logs.whenDurable(log) { _ in
                if remaining.decrement() == 0 { send.eventLoop.execute { send.send(finished) } }
            }
        }
    }

    private func append(_ data: ProduceRequest.PartitionProduceData, to log: PartitionLog, transactions: TransactionCoordinator, now: Int64,
                        result: ProduceResponse.PartitionProduceResponse) -> (ErrorCode, ProduceResponse.PartitionProduceResponse) {
        var result = result
        guard let records = data.records?.bytes, !records.isEmpty else { return (.corruptMessage, result) }
        // The first batch's header, read once; the log validates every batch in full.
        if let header = RecordBatchHeader(records) {
            // Produce v3+ carries exactly one RecordBatch v2 per partition. The header's length
            // tells; only when bytes follow it are the rest walked.
            if header.hasPlausibleLength, header.totalSize < records.count,
               let batches = try? RecordBatch.batches(in: records), batches.count != 1 {
                return (.invalidRecord, result)
            }
            // What only a broker may write, refused as Kafka's validateBatch refuses it:
            // transaction markers come from the coordinator, a producer id needs a sequence,
            // and LogAppendTime is the broker's to stamp.
            if header.isControl {
                result.errorMessage = "Clients are not allowed to write control records in topic partition \(log.topicPartition)"
                return (.invalidRecord, result)
            }
            if header.hasProducerId && header.baseSequence < 0 {
                result.errorMessage = "Invalid sequence number \(header.baseSequence) in record batch with producerId \(header.producerId) in topic partition \(log.topicPartition)"
                return (.invalidRecord, result)
            }
            if header.timestampType == .logAppendTime {
                result.recordErrors = (0..<min(max(header.recordCount, 1), Int32(Self.maximumRecordErrors))).map {
                    .init(batchIndex: $0, batchIndexErrorMessage: "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.")
                }
                result.errorMessage = "One or more records have been rejected due to invalid timestamp"
                return (.invalidTimestamp, result)
            }
            // A transactional batch must belong to a transaction of the producer's current
            // epoch that holds this partition (Kafka's partition verification): a zombie is
            // fenced, and no stray transactional write can hold the last stable offset back.
            if header.isTransactional {
                let verdict = transactions.verify(producerId: header.producerId, producerEpoch: header.producerEpoch, partition: log.topicPartition)
                if verdict != .none { return (verdict, result) }
            }
        }
        // Compacted topics keep the latest value per key: a record without a key has no place
        // there (Kafka's INVALID_RECORD, naming the records). The only per-record check made.
        // (Control batches were refused above.)
        if log.currentConfiguration.cleanupPolicy.compacts, let batch = try? RecordBatch(bytes: records) {
            // Streamed, and at most maximumRecordErrors listed: a small compressed batch can
            // hold millions of keyless records.
            var keyless: [Int32] = []
            var index: Int32 = 0
            do {
                try batch.forEachRecord { record in
                    if record.key == nil { keyless.append(index) }
                    index += 1
                    return keyless.count < Self.maximumRecordErrors
                }
            } catch {
                return refuse(error, result, in: log.topicPartition)
            }
            if !keyless.isEmpty {
                result.recordErrors = keyless.map {
                    .init(batchIndex: $0, batchIndexErrorMessage: "Compacted topic cannot accept message without key in topic partition \(log.topicPartition).")
                }
                result.errorMessage = "One or more records have been rejected"
                return (.invalidRecord, result)
            }
        }
        do {
            let appended = try log.append(records, leaderEpoch: 0, now: now)
            result.baseOffset = appended.baseOffset
            result.logAppendTimeMs = appended.logAppendTime
            result.logStartOffset = appended.logStartOffset
            return (.none, result)
        } catch {
            result.logStartOffset = log.logStartOffset
            switch error {
            case .sequence(.invalidProducerEpoch): return (.invalidProducerEpoch, result)
            case .sequence(.outOfOrderSequence): return (.outOfOrderSequenceNumber, result)
            case .batchTooLarge: return (.messageTooLarge, result)
            case .invalidTimestamp: return (.invalidTimestamp, result)
            case .invalidBatch(_, .unsupportedMagic): return (.unsupportedForMessageFormat, result)
            // A count its offsets or records contradict is Kafka's InvalidRecordException, not
            // retried by clients; a bad CRC or codec stream is corruption, which they retry.
            case .invalidBatch(_, let reason): return refuse(reason, result, in: log.topicPartition)
            default: return (.kafkaStorageError, result)
            }
        }
    }

    /// A count its offsets or records contradict is Kafka's InvalidRecordException, which
    /// clients do not retry; a bad CRC or compressed stream is corruption, which they do.
    private func refuse(_ reason: RecordBatchError, _ result: ProduceResponse.PartitionProduceResponse,
                        in topicPartition: TopicPartition) -> (ErrorCode, ProduceResponse.PartitionProduceResponse) {
        var result = result
        result.errorMessage = "\(reason) in topic partition \(topicPartition)"
        switch reason {
        case .recordCountMismatch, .invalidRecord: return (.invalidRecord, result)
        default: return (.corruptMessage, result)
        }
    }

    private func respondToAll(_ request: ProduceRequest, with error: ErrorCode, context: RequestContext) {
        guard request.acks != 0 else {
            context.responder.closeConnection()
            return
        }
        let response = ProduceResponse(responses: request.topicData.map { topic in
            .init(name: topic.name, topicId: topic.topicId, partitionResponses: topic.partitionData.map {
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
