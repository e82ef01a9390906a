// InitProducerId (key 22) for idempotent producers: a new producer id at epoch 0, or, when
// a producer presents its id and epoch (KIP-360, v3+), the same id with the next epoch.
// Transactional ids need the transaction coordinator, which is not served yet.

import KafkaProtocol

struct InitProducerIdHandler: ApiHandler {
    let apiKey = ApiKey.initProducerId
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ context: RequestContext) {
        let request = context.request.body as! InitProducerIdRequest
        var response = InitProducerIdResponse(errorCode: 0, producerId: -1, producerEpoch: -1)
        if request.transactionalId != nil {
            response.errorCode = ErrorCode.coordinatorNotAvailable.rawValue
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
