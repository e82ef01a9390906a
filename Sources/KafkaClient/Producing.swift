// Sending records as a producer does: grouped by partition into v2 batches (compressed when
// asked), one Produce request per leader, each partition's answer checked.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import SystemCalls

public struct OutgoingRecord {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// nil: the partitioner decides.
    public var partition: Int32?

    public init(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], partition: Int32? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }
}

public struct ProduceSettings {
    /// -1 (all in-sync replicas), 1 (the leader) or 0 (no answer).
    public var acks: Int16 = -1
    public var compression: CompressionCodec = .none
    public var timeoutMilliseconds: Int32 = 30_000

    public init() {}
}

extension KafkaCluster {
    /// Sends `records` to `topic`; returns each partition's base offset (none with acks=0).
    @discardableResult
    public func produce(_ records: [OutgoingRecord], to topic: String, settings: ProduceSettings, partitioner: inout Partitioner)
        throws(ClientError) -> [Int32: Int64]
    {
        let metadata = try self.topic(topic)
        let partitions = metadata.partitions.count
        var byPartition: [Int32: [Record]] = [:]
        let now = System.wallClockMilliseconds()
        for record in records {
            let partition = record.partition ?? partitioner.partition(for: record.key, partitions: partitions)
            guard partition >= 0, Int(partition) < partitions else {
                throw ClientError("topic \(topic) has \(partitions) partition(s): there is no partition \(partition)")
            }
            var batch = byPartition[partition, default: []]
            batch.append(Record(offset: Int64(batch.count), timestamp: now, key: record.key, value: record.value, headers: record.headers))
            byPartition[partition] = batch
        }
        var byLeader: [Int32: [(Int32, [UInt8])]] = [:]
        for (partition, batch) in byPartition.sorted(by: { $0.key < $1.key }) {
            guard let leader = metadata.partitions.first(where: { $0.partitionIndex == partition })?.leaderId, leader >= 0 else {
                throw ClientError("topic \(topic) partition \(partition) has no leader now; try again")
            }
            var builder = RecordBatchBuilder()
            builder.compression = settings.compression
            do {
                byLeader[leader, default: []].append((partition, try builder.build(batch)))
            } catch {
                throw ClientError("compressing with \(settings.compression): \(error)")
            }
        }
        var baseOffsets: [Int32: Int64] = [:]
        for (leader, batches) in byLeader.sorted(by: { $0.key < $1.key }) {
            let connection = try connection(to: leader)
            let request = ProduceRequest(
                transactionalId: nil, acks: settings.acks, timeoutMs: settings.timeoutMilliseconds,
                topicData: [
                    .init(
                        name: topic, topicId: metadata.topicId,
                        partitionData: batches.map { .init(index: $0.0, records: .bytes($0.1)) })
                ])
            let version = try connection.version(of: ProduceRequest.self)
            guard settings.acks != 0 else {
                try connection.sendWithoutResponse(request, version: version)
                continue
            }
            let response = try connection.send(request, version: version)
            for topicResponse in response.responses {
                for partition in topicResponse.partitionResponses {
                    try KafkaFailure.check(
                        partition.errorCode, subject: "producing to \(topic) partition \(partition.index)", message: partition.errorMessage)
                    baseOffsets[partition.index] = partition.baseOffset
                }
            }
        }
        return baseOffsets
    }
}
