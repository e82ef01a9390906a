// WriteTxnMarkers (key 27): writes COMMIT or ABORT markers to the partitions this broker
// leads. The transaction coordinator of another broker sends it, and operators aborting a
// hanging transaction (KIP-664, coordinator epoch -1). The log refuses a marker of an epoch
// older than the producer's; the answer waits for the in-sync replicas, as acks=all.

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
        let broker = context.broker
        let writer = BrokerMarkerWriter(logs: broker.logs, groups: broker.groups)
        var written: [TopicPartition] = []
        // Per marker, topic and partition, as the request has them.
        let results = request.markers.map { marker in
            marker.topics.map { topic in
                topic.partitionIndexes.map { index -> ErrorCode in
                    let partition = TopicPartition(topic: topic.name, partition: index)
                    // A follower's copy is written by replication only.
                    if broker.ledElsewhere(partition) != nil { return .notLeaderOrFollower }
                    do {
                        try writer.writeMarker(
                            to: partition, producerId: marker.producerId, producerEpoch: marker.producerEpoch,
                            commit: marker.transactionResult)
                        written.append(partition)
                        return .none
                    } catch CoordinatorWriteError.unknownPartition {
                        return .unknownTopicOrPartition
                    } catch CoordinatorWriteError.fencedProducerEpoch {
                        return .invalidProducerEpoch
                    } catch {
                        return .kafkaStorageError
                    }
                }
            }
        }
        // As Kafka appends markers: acks=all, answered once the in-sync replicas have them.
        broker.whenReplicated(written, on: context.eventLoop) { [written] outcomes in
            let unreplicated = Dictionary(zip(written, outcomes).filter { $0.1 != .none }, uniquingKeysWith: { first, _ in first })
            context.send(
                WriteTxnMarkersResponse(
                    markers: zip(request.markers, results).map { marker, results in
                        .init(
                            producerId: marker.producerId,
                            topics: zip(marker.topics, results).map { topic, results in
                                .init(
                                    name: topic.name,
                                    partitions: zip(topic.partitionIndexes, results).map { index, result in
                                        let partition = TopicPartition(topic: topic.name, partition: index)
                                        let error = result == .none ? unreplicated[partition] ?? .none : result
                                        return .init(partitionIndex: index, errorCode: error.rawValue)
                                    })
                            })
                    }))
        }
    }
}
