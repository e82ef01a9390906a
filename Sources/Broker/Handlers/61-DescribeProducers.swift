// DescribeProducers (key 61): the producers a partition knows, with their epochs, last
// sequences and the start of an open transaction (kafka-transactions.sh describe-producers).

import KafkaProtocol
import KafkaWire
import LogStorage

struct DescribeProducersHandler: ApiHandler {
    typealias Request = DescribeProducersRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: DescribeProducersRequest, _ context: RequestContext<DescribeProducersRequest>) {
        context.send(
            DescribeProducersResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitionIndexes.map { index in
                            guard context.authorized(.read, .topic, topic.name) else {
                                return .init(partitionIndex: index, errorCode: ErrorCode.topicAuthorizationFailed.rawValue)
                            }
                            guard let log = context.broker.logs.partition(TopicPartition(topic: topic.name, partition: index)) else {
                                return .init(partitionIndex: index, errorCode: ErrorCode.unknownTopicOrPartition.rawValue)
                            }
                            return .init(
                                partitionIndex: index, errorCode: 0,
                                activeProducers: log.activeProducers.map {
                                    .init(
                                        producerId: $0.producerId, producerEpoch: Int32($0.producerEpoch), lastSequence: $0.lastSequence,
                                        lastTimestamp: $0.lastTimestamp, coordinatorEpoch: 0,
                                        currentTxnStartOffset: $0.currentTransactionStartOffset)
                                })
                        })
                }))
    }
}
