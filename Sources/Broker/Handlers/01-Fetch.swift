// Fetch (key 1): records from the batch that holds each fetch offset, within max_bytes and
// partition_max_bytes (the first batch always whole, KIP-74), sent with sendfile straight
// from the segment files. With less than min_bytes available the request parks until an
// append to one of its partitions or max_wait_ms.

import KafkaProtocol
import KafkaWire
import LogStorage
import Reactor
import SystemCalls

struct FetchHandler: ApiHandler {
    let apiKey = ApiKey.fetch
    let advertised: ClosedRange<Int16> = 4...18

    func handle(_ context: RequestContext) {
        let request = context.request.body as! FetchRequest
        // Sessions (KIP-227) are not kept yet: every response is a full one with session 0,
        // which clients accept as "no session"; an incremental request names a session we
        // cannot have.
        if request.sessionId != 0 {
            context.send(FetchResponse(errorCode: ErrorCode.fetchSessionIdNotFound.rawValue, sessionId: 0))
            return
        }
        let operation = FetchOperation(context: context, request: request)
        operation.attempt(final: request.maxWaitMs <= 0)
    }
}

/// One Fetch, possibly parked. Lives on its connection's event loop.
final class FetchOperation: @unchecked Sendable {
    // Touched only on `context.eventLoop` (wake-ups and the timer both run there).
    let context: RequestContext
    let request: FetchRequest
    private var done = false
    private var waiterId: UInt64?
    private var timer: UInt64?
    private let partitions: [TopicPartition]

    init(context: RequestContext, request: FetchRequest) {
        self.context = context
        self.request = request
        var names: [TopicPartition] = []
        for topic in request.topics {
            guard let name = context.version >= 13 ? context.broker.topics.topic(id: topic.topicId)?.name : topic.topic else { continue }
            for partition in topic.partitions { names.append(TopicPartition(topic: name, partition: partition.partition)) }
        }
        partitions = names
    }

    func attempt(final: Bool) {
        context.eventLoop.assertInEventLoop()
        guard !done else { return }
        let (response, regions, hasError) = build()
        let bytes = regions.reduce(0) { $0 + $1.length }
        if final || hasError || bytes >= Int(max(request.minBytes, 1)) {
            finish(response, regions: regions)
            return
        }
        if waiterId == nil {
            waiterId = context.broker.fetchWaiters.park(on: partitions, loop: context.eventLoop) { [self] in
                waiterId = nil
                attempt(final: false)
            }
            timer = context.eventLoop.schedule(afterMilliseconds: Int(request.maxWaitMs)) { [self] in
                timer = nil
                attempt(final: true)
            }
        }
    }

    private func finish(_ response: FetchResponse, regions: [FileRegion]) {
        done = true
        if let waiterId { context.broker.fetchWaiters.cancel(waiterId, partitions: partitions) }
        if let timer { context.eventLoop.cancelTimer(timer) }
        context.send(response, regions: regions)
    }

    /// The response as of now (its records as external file regions), the regions, and
    /// whether a partition has an error.
    private func build() -> (FetchResponse, [FileRegion], Bool) {
        let broker = context.broker
        let version = context.version
        var response = FetchResponse(errorCode: ErrorCode.none.rawValue, sessionId: 0)
        var remaining = Int(max(request.maxBytes, 0))
        var total = 0
        var hasError = false
        var regions: [FileRegion] = []
        for topic in request.topics {
            let info = version >= 13 ? broker.topics.topic(id: topic.topicId) : broker.topics.topic(named: topic.topic)
            var topicResponse = FetchResponse.FetchableTopicResponse(topic: topic.topic, topicId: topic.topicId)
            for partition in topic.partitions {
                var data = FetchResponse.PartitionData(partitionIndex: partition.partition, errorCode: 0, highWatermark: -1,
                                                       abortedTransactions: request.isolationLevel == 1 ? [] : nil, records: [])
                guard let info, let log = broker.logs.partition(TopicPartition(topic: info.name, partition: partition.partition)) else {
                    data.errorCode = (version >= 13 ? ErrorCode.unknownTopicId : .unknownTopicOrPartition).rawValue
                    hasError = true
                    topicResponse.partitions.append(data)
                    continue
                }
                let limit = min(Int(max(partition.partitionMaxBytes, 0)), remaining)
                do {
                    let read = try log.read(from: partition.fetchOffset, maxBytes: limit, minOneBatch: total == 0)
                    // One region per partition (a read stays within one segment); the
                    // segment file object keeps the region readable until it is sent.
                    if let region = read.regions.first {
                        data.records = .external(length: region.length, id: regions.count)
                        regions.append(FileRegion(descriptor: region.file.descriptor, offset: region.position,
                                                  length: region.length, owner: region.file))
                    }
                    data.highWatermark = read.highWatermark
                    data.lastStableOffset = read.highWatermark
                    data.logStartOffset = read.logStartOffset
                    total += read.byteCount
                    remaining = max(0, remaining - read.byteCount)
                } catch {
                    let outOfRange = if case LogError.offsetOutOfRange = error { true } else { false }
                    data.errorCode = (outOfRange ? ErrorCode.offsetOutOfRange : .kafkaStorageError).rawValue
                    data.highWatermark = log.highWatermark
                    data.lastStableOffset = log.highWatermark
                    data.logStartOffset = log.logStartOffset
                    hasError = true
                }
                topicResponse.partitions.append(data)
            }
            response.responses.append(topicResponse)
        }
        return (response, regions, hasError)
    }
}
