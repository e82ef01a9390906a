// AlterReplicaLogDirs (key 34): moves replicas between a broker's log dirs. Swiftlet has one
// (its data directory), so a partition it hosts is already there: Kafka's answer is success.
// Another path is LOG_DIR_NOT_FOUND and a partition not hosted REPLICA_NOT_AVAILABLE, as Kafka.

import KafkaProtocol
import LogStorage
import SystemCalls

struct AlterReplicaLogDirsHandler: ApiHandler {
    let apiKey = ApiKey.alterReplicaLogDirs
    let advertised: ClosedRange<Int16> = 1...2

    func handle(_ context: RequestContext) {
        let request = context.request.body as! AlterReplicaLogDirsRequest
        let broker = context.broker
        var response = AlterReplicaLogDirsResponse()
        for directory in request.dirs {
            // Kafka compares absolute paths; a path naming the same directory otherwise is it too.
            let isOurs = broker.logDirectory != nil && broker.logDirectory == ((try? System.canonicalPath(directory.path)) ?? directory.path)
            for topic in directory.topics {
                response.results.append(.init(topicName: topic.name, partitions: topic.partitions.map { index in
                    let error: ErrorCode = !isOurs ? .logDirNotFound
                        : broker.logs.partition(TopicPartition(topic: topic.name, partition: index)) == nil ? .replicaNotAvailable : .none
                    return .init(partitionIndex: index, errorCode: error.rawValue)
                }))
            }
        }
        context.send(response)
    }
}
