// DeleteRecords (key 21): moves each partition's log start offset up to the given offset
// (-1: the high watermark); whole segments below it are deleted.

import KafkaProtocol
import KafkaWire
import LogStorage
import SystemCalls

struct DeleteRecordsHandler: ApiHandler {
    typealias Request = DeleteRecordsRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: DeleteRecordsRequest, _ context: RequestContext<DeleteRecordsRequest>) {
        let now = System.wallClockMilliseconds()
        var response = DeleteRecordsResponse()
        for topic in request.topics {
            var topicResult = DeleteRecordsResponse.DeleteRecordsTopicResult(name: topic.name)
            for partition in topic.partitions {
                var result = DeleteRecordsResponse.DeleteRecordsPartitionResult(
                    partitionIndex: partition.partitionIndex,
                    lowWatermark: -1, errorCode: 0)
                if !context.authorized(.delete, .topic, topic.name) {
                    result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                } else if context.broker.ledElsewhere(TopicPartition(topic: topic.name, partition: partition.partitionIndex)) != nil {
                    result.errorCode = ErrorCode.notLeaderOrFollower.rawValue
                } else if let log = context.broker.logs.partition(TopicPartition(topic: topic.name, partition: partition.partitionIndex)) {
                    let target = partition.offset == -1 ? log.highWatermark : partition.offset
                    do {
                        result.lowWatermark = try log.deleteRecords(before: target, now: now)
                    } catch {
                        if case .offsetOutOfRange = error {
                            result.errorCode = ErrorCode.offsetOutOfRange.rawValue
                        } else {
                            result.errorCode = ErrorCode.kafkaStorageError.rawValue
                        }
                    }
                } else {
                    result.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                }
                topicResult.partitions.append(result)
            }
            response.topics.append(topicResult)
        }
        context.send(response)
    }
}
