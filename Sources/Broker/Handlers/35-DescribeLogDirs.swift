// DescribeLogDirs (key 35): the one data directory, the size of each partition in it, and
// (v4+) the file system's total and usable bytes.

import KafkaProtocol
import KafkaWire
import LogStorage
import SystemCalls

struct DescribeLogDirsHandler: ApiHandler {
    typealias Request = DescribeLogDirsRequest
    let advertised: ClosedRange<Int16> = 1...5

    func handle(_ request: DescribeLogDirsRequest, _ context: RequestContext<DescribeLogDirsRequest>) {
        let broker = context.broker
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(DescribeLogDirsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, results: []))
        }
        let directory = broker.logDirectory
        var result = DescribeLogDirsResponse.DescribeLogDirsResult(errorCode: 0, logDir: directory ?? "(memory)")
        let wanted: [(String, [Int32])] =
            request.topics.map { $0.map { ($0.topic, $0.partitions) } }
            ?? broker.topics.all.map { ($0.name, Array(0..<$0.partitions)) }
        for (name, partitions) in wanted {
            let described = partitions.compactMap { index -> DescribeLogDirsResponse.DescribeLogDirsPartition? in
                guard let log = broker.logs.partition(TopicPartition(topic: name, partition: index)) else { return nil }
                return .init(partitionIndex: index, partitionSize: log.sizeInBytes, offsetLag: 0, isFutureKey: false)
            }
            if !described.isEmpty { result.topics.append(.init(name: name, partitions: described)) }
        }
        if context.version >= 4, let directory, let space = try? System.fileSystemSpace(directory) {
            result.totalBytes = space.total
            result.usableBytes = space.available
        }
        context.send(DescribeLogDirsResponse(results: [result]))
    }
}
