// InitProducerId (key 22): idempotent producers get a new producer id at epoch 0, or, when
// they present their id and epoch (KIP-360, v3+), the same id with the next epoch.
// Transactional ids go to the transaction coordinator, which fences the previous
// incarnation.

import Coordinators
import KafkaProtocol

struct InitProducerIdHandler: ApiHandler {
    typealias Request = InitProducerIdRequest
    let advertised: ClosedRange<Int16> = 0...5

    /// The first transactional id creates __transaction_state (50 partitions of files).
    func runsOnAdminThread(_ request: InitProducerIdRequest, _ context: RequestContext<InitProducerIdRequest>) -> Bool {
        request.transactionalId != nil
            && context.broker.topics.topic(named: TransactionCoordinator.stateTopic) == nil
    }

    func handle(_ request: InitProducerIdRequest, _ context: RequestContext<InitProducerIdRequest>) {
        var response = InitProducerIdResponse(errorCode: 0, producerId: -1, producerEpoch: -1)
        // A transactional producer needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on
        // the cluster or WRITE on some topic (KIP-679), as Kafka 4.x checks.
        if let transactionalId = request.transactionalId, !context.authorized(.write, .transactionalId, transactionalId) {
            response.errorCode = ErrorCode.transactionalIdAuthorizationFailed.rawValue
        } else if request.transactionalId == nil, !context.authorized(.idempotentWrite, .cluster, clusterResourceName),
            !context.authorizedOnSome(.write, .topic)
        {
            response.errorCode = ErrorCode.clusterAuthorizationFailed.rawValue
        } else if let transactionalId = request.transactionalId, context.broker.coordinatedElsewhere(transactionalId: transactionalId) {
            response.errorCode = ErrorCode.notCoordinator.rawValue
        } else if let transactionalId = request.transactionalId {
            let result = context.broker.transactions.initProducerId(
                transactionalId: transactionalId, timeoutMilliseconds: request.transactionTimeoutMs,
                producerId: request.producerId, producerEpoch: request.producerEpoch)
            response.errorCode = result.error.fenced(forVersion: context.version, since: 4).rawValue
            response.producerId = result.producerId
            response.producerEpoch = result.producerEpoch
            if result.error == .none {
                // The new epoch counts once it is replicated: a coordinator after a failover must
                // not hand it out again.
                return context.sendWhenReplicated(
                    response, coordinatorPartition: context.broker.transactionStatePartition(of: transactionalId)
                ) { InitProducerIdResponse(errorCode: $0.rawValue, producerId: -1, producerEpoch: -1) }
            }
        } else if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
        } else {
            do {
                response.producerId = try context.broker.producerIds.next()
                response.producerEpoch = 0
            } catch {
                context.broker.log("cannot persist the producer id block: \(error)")
                response.errorCode = ErrorCode.kafkaStorageError.rawValue
            }
        }
        context.send(response)
    }
}

extension ErrorCode {
    /// PRODUCER_FENCED exists from a version of each transactional API on (KIP-588);
    /// older versions hear INVALID_PRODUCER_EPOCH, as Kafka answers them.
    func fenced(forVersion version: Int16, since: Int16) -> ErrorCode {
        self == .producerFenced && version < since ? .invalidProducerEpoch : self
    }
}
