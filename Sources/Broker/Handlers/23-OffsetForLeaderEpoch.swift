// OffsetForLeaderEpoch (key 23): where a leader epoch ends in the leader's log, from its
// leader-epoch cache (KIP-101). Consumers (librdkafka's KIP-320 validation, kafka-python)
// check their position with it; a cluster's followers find where to truncate.

import KafkaProtocol
import KafkaWire
import LogStorage

struct OffsetForLeaderEpochHandler: ApiHandler {
    typealias Request = OffsetForLeaderEpochRequest
    let advertised: ClosedRange<Int16> = 2...4

    func handle(_ request: OffsetForLeaderEpochRequest, _ context: RequestContext<OffsetForLeaderEpochRequest>) {
        var response = OffsetForLeaderEpochResponse()
        // A replica (v3+ names it) asks to cut its log by the answer: CLUSTER_ACTION, as Kafka.
        let refusedReplica =
            context.version >= 3 && request.replicaId >= 0 && !context.authorized(.clusterAction, .cluster, clusterResourceName)
        for topic in request.topics {
            var topicResult = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult(topic: topic.topic)
            for partition in topic.partitions {
                var result = OffsetForLeaderEpochResponse.EpochEndOffset(errorCode: 0, partition: partition.partition)
                if refusedReplica {
                    result.errorCode = ErrorCode.clusterAuthorizationFailed.rawValue
                } else if !context.authorized(.describe, .topic, topic.topic) {
                    result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                } else if context.broker.ledElsewhere(TopicPartition(topic: topic.topic, partition: partition.partition)) != nil {
                    result.errorCode = ErrorCode.notLeaderOrFollower.rawValue
                } else if let log = context.broker.logs.partition(TopicPartition(topic: topic.topic, partition: partition.partition)) {
                    // The epoch this broker leads in (0 on a single broker; a cluster's from etcd).
                    let leaderEpoch = context.broker.leaderEpoch(of: log.topicPartition)
                    if partition.currentLeaderEpoch > leaderEpoch {
                        result.errorCode = ErrorCode.unknownLeaderEpoch.rawValue
                    } else if partition.currentLeaderEpoch >= 0 && partition.currentLeaderEpoch < leaderEpoch {
                        result.errorCode = ErrorCode.fencedLeaderEpoch.rawValue
                    } else if let end = log.endOffset(forLeaderEpoch: partition.leaderEpoch) {
                        result.leaderEpoch = end.epoch
                        result.endOffset = end.endOffset
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
