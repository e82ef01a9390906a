// AddOffsetsToTxn (key 25): the group's partition of __consumer_offsets joins the
// transaction, so that its TxnOffsetCommit records are settled by the transaction's marker.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct AddOffsetsToTxnHandler: ApiHandler {
    typealias Request = AddOffsetsToTxnRequest
    let advertised: ClosedRange<Int16> = 0...4

    func handle(_ request: AddOffsetsToTxnRequest, _ context: RequestContext<AddOffsetsToTxnRequest>) {
        let broker = context.broker
        var result = ErrorCode.none
        if !context.authorized(.write, .transactionalId, request.transactionalId) {
            return context.send(AddOffsetsToTxnResponse(errorCode: ErrorCode.transactionalIdAuthorizationFailed.rawValue))
        }
        if !context.authorized(.read, .group, request.groupId) {
            return context.send(AddOffsetsToTxnResponse(errorCode: ErrorCode.groupAuthorizationFailed.rawValue))
        }
        if context.broker.coordinatedElsewhere(transactionalId: request.transactionalId) {
            return context.send(AddOffsetsToTxnResponse(errorCode: ErrorCode.notCoordinator.rawValue))
        }
        do {
            try broker.offsetsTopic.ensureTopic()
            let partition = broker.offsetsPartition(of: request.groupId)
            result = broker.transactions.addPartitions(
                transactionalId: request.transactionalId, producerId: request.producerId,
                producerEpoch: request.producerEpoch, partitions: [partition]
            )
            .fenced(forVersion: context.version, since: 2)
        } catch {
            result = .coordinatorNotAvailable
        }
        guard result == .none else { return context.send(AddOffsetsToTxnResponse(errorCode: result.rawValue)) }
        context.sendWhenReplicated(
            AddOffsetsToTxnResponse(errorCode: result.rawValue),
            coordinatorPartition: broker.transactionStatePartition(of: request.transactionalId)
        ) { AddOffsetsToTxnResponse(errorCode: $0.rawValue) }
    }
}
