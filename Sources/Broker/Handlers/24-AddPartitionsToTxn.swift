// AddPartitionsToTxn (key 24): partitions join a producer's transaction before it writes to
// them. v0-3 carry one transaction (clients); v4+ several, possibly verify-only (brokers).
// An unknown partition fails the request: it gets UNKNOWN_TOPIC_OR_PARTITION and the
// others OPERATION_NOT_ATTEMPTED, as Kafka answers.

import KafkaProtocol
import KafkaWire
import LogStorage

struct AddPartitionsToTxnHandler: ApiHandler {
    typealias Request = AddPartitionsToTxnRequest
    let advertised: ClosedRange<Int16> = 0...5

    typealias TopicResult = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult

    func handle(_ request: AddPartitionsToTxnRequest, _ context: RequestContext<AddPartitionsToTxnRequest>) {
        var response = AddPartitionsToTxnResponse()
        // v4+ is sent by brokers (transactions version 2 verification): CLUSTER_ACTION.
        if context.version >= 4 && !context.authorized(.clusterAction, .cluster, clusterResourceName) {
            return context.send(AddPartitionsToTxnResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue))
        }
        if context.version <= 3 {
            response.resultsByTopicV3AndBelow = add(
                context, transactionalId: request.v3AndBelowTransactionalId, producerId: request.v3AndBelowProducerId,
                producerEpoch: request.v3AndBelowProducerEpoch, topics: request.v3AndBelowTopics, verifyOnly: false)
        } else {
            response.resultsByTransaction = request.transactions.map { transaction in
                .init(
                    transactionalId: transaction.transactionalId,
                    topicResults: add(
                        context, transactionalId: transaction.transactionalId, producerId: transaction.producerId,
                        producerEpoch: transaction.producerEpoch, topics: transaction.topics, verifyOnly: transaction.verifyOnly))
            }
        }
        // The partitions count once the transaction's state is replicated: a coordinator after a
        // failover must write markers to every one of them.
        let added =
            context.version <= 3
            ? (Self.succeeded(response.resultsByTopicV3AndBelow) ? [request.v3AndBelowTransactionalId] : [])
            : zip(request.transactions, response.resultsByTransaction).filter { !$0.0.verifyOnly && Self.succeeded($0.1.topicResults) }
                .map(\.0.transactionalId)
        let statePartitions = Set(added.map { context.broker.transactionStatePartition(of: $0) })
        guard !statePartitions.isEmpty else { return context.send(response) }
        context.broker.whenReplicated(Array(statePartitions), on: context.eventLoop) { [response] outcomes in
            guard let failure = outcomes.first(where: { $0 != .none }) else { return context.send(response) }
            let error = Broker.coordinatorError(forReplication: failure).rawValue
            var refused = response
            Self.refuse(&refused.resultsByTopicV3AndBelow, error)
            for index in refused.resultsByTransaction.indices { Self.refuse(&refused.resultsByTransaction[index].topicResults, error) }
            context.send(refused)
        }
    }

    private static func succeeded(_ results: [TopicResult]) -> Bool {
        results.contains { $0.resultsByPartition.contains { $0.partitionErrorCode == 0 } }
    }

    private static func refuse(_ results: inout [TopicResult], _ error: Int16) {
        for topic in results.indices {
            for partition in results[topic].resultsByPartition.indices
            where results[topic].resultsByPartition[partition].partitionErrorCode == 0 {
                results[topic].resultsByPartition[partition].partitionErrorCode = error
            }
        }
    }

    private func add(
        _ context: RequestContext<AddPartitionsToTxnRequest>, transactionalId: String, producerId: Int64, producerEpoch: Int16,
        topics: [AddPartitionsToTxnRequest.AddPartitionsToTxnTopic], verifyOnly: Bool
    ) -> [TopicResult] {
        let broker = context.broker
        let partitions = topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.name, partition: $0) } }
        let unknown = Set(partitions.filter { !broker.partitionExists($0) })
        func results(_ error: (TopicPartition) -> ErrorCode) -> [TopicResult] {
            topics.map { topic in
                .init(
                    name: topic.name,
                    resultsByPartition: topic.partitions.map {
                        .init(partitionIndex: $0, partitionErrorCode: error(TopicPartition(topic: topic.name, partition: $0)).rawValue)
                    })
            }
        }
        // Kafka: WRITE on the transactional id, then WRITE on each topic.
        if !context.authorized(.write, .transactionalId, transactionalId) {
            return results { _ in .transactionalIdAuthorizationFailed }
        }
        if broker.coordinatedElsewhere(transactionalId: transactionalId) { return results { _ in .notCoordinator } }
        let denied = Set(topics.map(\.name).filter { !context.authorized(.write, .topic, $0) })
        if !denied.isEmpty {
            return results { denied.contains($0.topic) ? .topicAuthorizationFailed : .operationNotAttempted }
        }
        if !unknown.isEmpty {
            return results { unknown.contains($0) ? .unknownTopicOrPartition : .operationNotAttempted }
        }
        if verifyOnly {
            return results { broker.transactions.verify(producerId: producerId, producerEpoch: producerEpoch, partition: $0) }
        }
        let error = broker.transactions.addPartitions(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch,
            partitions: partitions
        ).fenced(forVersion: context.version, since: 2)
        return results { _ in error }
    }
}
