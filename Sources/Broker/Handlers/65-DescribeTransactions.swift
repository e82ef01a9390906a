// DescribeTransactions (key 65): a transactional id's state, producer and partitions.

import KafkaProtocol

struct DescribeTransactionsHandler: ApiHandler {
    typealias Request = DescribeTransactionsRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: DescribeTransactionsRequest, _ context: RequestContext<DescribeTransactionsRequest>) {
        context.send(
            DescribeTransactionsResponse(
                transactionStates: request.transactionalIds.map { id in
                    guard context.authorized(.describe, .transactionalId, id) else {
                        return .init(
                            errorCode: ErrorCode.transactionalIdAuthorizationFailed.rawValue, transactionalId: id, transactionState: "",
                            transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1)
                    }
                    guard !context.broker.coordinatedElsewhere(transactionalId: id) else {
                        return .init(
                            errorCode: ErrorCode.notCoordinator.rawValue, transactionalId: id, transactionState: "",
                            transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1)
                    }
                    guard let metadata = context.broker.transactions.describe(id) else {
                        return .init(
                            errorCode: ErrorCode.transactionalIdNotFound.rawValue, transactionalId: id, transactionState: "",
                            transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1)
                    }
                    return .init(
                        errorCode: 0, transactionalId: id, transactionState: metadata.state.name,
                        transactionTimeoutMs: metadata.timeoutMilliseconds, transactionStartTimeMs: metadata.startTimestamp,
                        producerId: metadata.producerId, producerEpoch: metadata.producerEpoch,
                        // Only the topics the principal may DESCRIBE, as Kafka filters them.
                        topics: Dictionary(grouping: metadata.partitions, by: \.topic).filter {
                            context.authorized(.describe, .topic, $0.key)
                        }
                        .sorted { $0.key < $1.key }.map {
                            .init(topic: $0.key, partitions: $0.value.map(\.partition).sorted())
                        })
                }))
    }
}
