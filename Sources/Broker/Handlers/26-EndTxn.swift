// EndTxn (key 26): commits or aborts a producer's transaction. The answer comes once the
// decision is replicated and the markers are written to every partition of it.

import KafkaProtocol

struct EndTxnHandler: ApiHandler {
    typealias Request = EndTxnRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: EndTxnRequest, _ context: RequestContext<EndTxnRequest>) {
        guard context.authorized(.write, .transactionalId, request.transactionalId) else {
            return context.send(EndTxnResponse(errorCode: ErrorCode.transactionalIdAuthorizationFailed.rawValue))
        }
        guard !context.broker.coordinatedElsewhere(transactionalId: request.transactionalId) else {
            return context.send(EndTxnResponse(errorCode: ErrorCode.notCoordinator.rawValue))
        }
        context.broker.transactions.endTransaction(
            transactionalId: request.transactionalId, producerId: request.producerId, producerEpoch: request.producerEpoch,
            commit: request.committed
        ) { error in
            // v5's producer id and epoch are for transactions version 2 (KIP-890), not served.
            context.send(EndTxnResponse(errorCode: error.fenced(forVersion: context.version, since: 2).rawValue))
        }
    }
}
