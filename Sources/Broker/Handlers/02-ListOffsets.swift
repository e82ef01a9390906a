// ListOffsets (key 2): -1 latest (the high watermark; the last stable offset under
// read_committed), -2 earliest, -3 the record with the largest timestamp (v7+),
// -4 earliest local (v8+), and a timestamp: the first offset whose record is at or after it.

import KafkaProtocol
import KafkaWire
import LogStorage

struct ListOffsetsHandler: ApiHandler {
    typealias Request = ListOffsetsRequest
    let advertised: ClosedRange<Int16> = 1...11

    func handle(_ request: ListOffsetsRequest, _ context: RequestContext<ListOffsetsRequest>) {
        let broker = context.broker
        var response = ListOffsetsResponse()
        for topic in request.topics {
            var topicResponse = ListOffsetsResponse.ListOffsetsTopicResponse(name: topic.name)
            for partition in topic.partitions {
                var result = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex, errorCode: 0)
                if !context.authorized(.describe, .topic, topic.name) {
                    result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                } else if broker.ledElsewhere(TopicPartition(topic: topic.name, partition: partition.partitionIndex)) != nil {
                    result.errorCode = ErrorCode.notLeaderOrFollower.rawValue
                } else if let log = broker.logs.partition(TopicPartition(topic: topic.name, partition: partition.partitionIndex)) {
                    do {
                        var (offset, timestamp) = try lookup(partition.timestamp, in: log, readCommitted: request.isolationLevel == 1)
                        // read_committed never learns of an offset at or past the last stable one.
                        if request.isolationLevel == 1, partition.timestamp >= 0 || partition.timestamp == -3,
                            offset >= log.lastStableOffset
                        {
                            (offset, timestamp) = (-1, -1)
                        }
                        result.offset = offset
                        result.timestamp = timestamp
                        // Not ignorable: only versions that carry it (v4+) may get a value.
                        if context.version >= 4 && offset >= 0 { result.leaderEpoch = 0 }
                    } catch {
                        result.errorCode = ErrorCode.kafkaStorageError.rawValue
                    }
                } else {
                    result.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                }
                topicResponse.partitions.append(result)
            }
            response.topics.append(topicResponse)
        }
        context.send(response)
    }

    private func lookup(_ timestamp: Int64, in log: PartitionLog, readCommitted: Bool) throws(LogError) -> (Int64, Int64) {
        switch timestamp {
        case -1: return (readCommitted ? log.lastStableOffset : log.highWatermark, -1)
        case -2, -4: return (log.logStartOffset, -1)
        case -3:
            guard let record = try log.maxTimestampRecord() else { return (-1, -1) }
            return (record.offset, record.timestamp)
        case -5: return (-1, -1)  // latest tiered offset: no tiered storage here
        case ..<0: return (-1, -1)
        default:
            guard let record = try log.offset(forTimestamp: timestamp) else { return (-1, -1) }
            return (record.offset, record.timestamp)
        }
    }
}
