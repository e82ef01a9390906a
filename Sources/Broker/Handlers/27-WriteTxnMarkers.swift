// WriteTxnMarkers (key 27): writes COMMIT or ABORT markers to partitions. Between Kafka
// brokers the transaction coordinator sends it; here it writes its own markers, so the
// callers are operators aborting a hanging transaction (KIP-664, coordinator epoch -1).
// The log refuses a marker of an epoch older than the producer's.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct WriteTxnMarkersHandler: ApiHandler {
    typealias Request = WriteTxnMarkersRequest
    let advertised: ClosedRange<Int16> = 1...2

    func handle(_ request: WriteTxnMarkersRequest, _ context: RequestContext<WriteTxnMarkersRequest>) {
        guard context.authorized(.clusterAction, .cluster, clusterResourceName) else {
            return context.send(
                WriteTxnMarkersResponse(
                    markers: request.markers.map { marker in
                        .init(
                            producerId: marker.producerId,
                            topics: marker.topics.map { topic in
                                .init(
                                    name: topic.name,
                                    partitions: topic.partitionIndexes.map {
                                        .init(partitionIndex: $0, errorCode: ErrorCode.clusterAuthorizationFailed.rawValue)
                                    })
                            })
                    }))
        }
        let writer = BrokerMarkerWriter(logs: context.broker.logs, groups: context.broker.groups)
        context.send(
            WriteTxnMarkersResponse(
                markers: request.markers.map { marker in
                    .init(
                        producerId: marker.producerId,
                        topics: marker.topics.map { topic in
                            .init(
                                name: topic.name,
                                partitions: topic.partitionIndexes.map { index in
                                    let result: ErrorCode
                                    do {
                                        try writer.writeMarker(
                                            to: TopicPartition(topic: topic.name, partition: index), producerId: marker.producerId,
                                            producerEpoch: marker.producerEpoch, commit: marker.transactionResult)
                                        result = .none
                                    } catch CoordinatorWriteError.unknownPartition {
                                        result = .unknownTopicOrPartition
                                    } catch CoordinatorWriteError.fencedProducerEpoch {
                                        result = .invalidProducerEpoch
                                    } catch {
                                        result = .kafkaStorageError
                                    }
                                    return .init(partitionIndex: index, errorCode: result.rawValue)
                                })
                        })
                }))
    }
}
