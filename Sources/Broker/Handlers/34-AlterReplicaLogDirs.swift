// AlterReplicaLogDirs (key 34): moves replicas between a broker's log dirs. Swiftlet has one
// (its data directory), so a partition it hosts is already there: Kafka's answer is success.
// Another path is LOG_DIR_NOT_FOUND and a partition not hosted REPLICA_NOT_AVAILABLE, as Kafka.

import KafkaProtocol
import KafkaWire
import LogStorage

struct AlterReplicaLogDirsHandler: ApiHandler {
    typealias Request = AlterReplicaLogDirsRequest
    let advertised: ClosedRange<Int16> = 1...2

    func handle(_ request: AlterReplicaLogDirsRequest, _ context: RequestContext<AlterReplicaLogDirsRequest>) {
        let broker = context.broker
        // As Kafka: one destination per partition (the last named wins), one result per topic.
        var destinations: [TopicPartition: String] = [:]
        var order: [TopicPartition] = []
        for directory in request.dirs {
            for topic in directory.topics {
                for index in topic.partitions {
                    let partition = TopicPartition(topic: topic.name, partition: index)
                    if destinations.updateValue(directory.path, forKey: partition) == nil { order.append(partition) }
                }
            }
        }
        var response = AlterReplicaLogDirsResponse()
        let allowed = context.authorized(.alter, .cluster, clusterResourceName)
        for partition in order {
            // Kafka compares the path with each log dir's absolute path, as DescribeLogDirs names it.
            let error: ErrorCode =
                !allowed
                ? .clusterAuthorizationFailed
                : destinations[partition] != broker.logDirectory
                    ? .logDirNotFound
                    : broker.logs.partition(partition) == nil ? .replicaNotAvailable : .none
            let result = AlterReplicaLogDirsResponse.AlterReplicaLogDirPartitionResult(
                partitionIndex: partition.partition, errorCode: error.rawValue)
            if let existing = response.results.firstIndex(where: { $0.topicName == partition.topic }) {
                response.results[existing].partitions.append(result)
            } else {
                response.results.append(.init(topicName: partition.topic, partitions: [result]))
            }
        }
        context.send(response)
    }
}
