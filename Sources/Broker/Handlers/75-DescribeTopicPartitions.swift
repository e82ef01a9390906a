// DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, in name order,
// at most response_partition_limit partitions per response with a cursor for the rest.

import KafkaProtocol

struct DescribeTopicPartitionsHandler: ApiHandler {
    typealias Request = DescribeTopicPartitionsRequest
    let advertised: ClosedRange<Int16> = 0...0
    /// Kafka's max.request.partition.size.limit: the most partitions one response carries,
    /// whatever response_partition_limit asks.
    static let maximumPartitionsPerResponse: Int32 = 2000

    func handle(_ request: DescribeTopicPartitionsRequest, _ context: RequestContext<DescribeTopicPartitionsRequest>) {
        let broker = context.broker
        // All topics: those the principal may DESCRIBE; named ones it may not are refused below.
        let names =
            request.topics.isEmpty
            ? broker.topics.all.map(\.name).filter { context.authorized(.describe, .topic, $0, logIfDenied: false) }
            : request.topics.map(\.name).sorted()
        var response = DescribeTopicPartitionsResponse()
        if let cursor = request.cursor, cursor.partitionIndex < 0 {
            response.topics = request.topics.map {
                .init(errorCode: ErrorCode.invalidRequest.rawValue, name: $0.name)
            }
            context.send(response)
            return
        }
        var budget = Int(max(min(Self.maximumPartitionsPerResponse, request.responsePartitionLimit), 1))
        for name in names {
            if let cursor = request.cursor, name < cursor.topicName { continue }
            guard context.authorized(.describe, .topic, name) else {
                response.topics.append(.init(errorCode: ErrorCode.topicAuthorizationFailed.rawValue, name: name))
                continue
            }
            guard let topic = broker.topics.topic(named: name) else {
                response.topics.append(.init(errorCode: ErrorCode.unknownTopicOrPartition.rawValue, name: name))
                continue
            }
            let first = request.cursor.map { $0.topicName == name ? $0.partitionIndex : 0 } ?? 0
            var described = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic(
                errorCode: 0, name: name, topicId: topic.topicId, isInternal: topic.isInternal)
            let views = broker.partitionViews(name, count: topic.partitions)
            var index = first
            while index < topic.partitions && budget > 0 {
                let view = views[Int(index)]
                described.partitions.append(
                    .init(
                        errorCode: view.errorCode.rawValue, partitionIndex: index, leaderId: view.leader, leaderEpoch: view.leaderEpoch,
                        replicaNodes: view.replicas, isrNodes: view.inSyncReplicas, eligibleLeaderReplicas: [],
                        lastKnownElr: [], offlineReplicas: view.offlineReplicas))
                index += 1
                budget -= 1
            }
            response.topics.append(described)
            if index < topic.partitions {
                response.nextCursor = .init(topicName: name, partitionIndex: index)
                break
            }
        }
        context.send(response)
    }
}
