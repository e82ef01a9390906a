// Reading partitions as a consumer does: offsets resolved from Kafka's forms (earliest,
// latest, a timestamp), Fetch from each partition's leader, and the fetched batches decoded
// with control batches and aborted transactions left out (read_committed).

import KafkaProtocol
import KafkaRecords
import KafkaWire

public struct FetchedPartition {
    public var partition: Int32
    public var records: [Record]
    /// Where the next fetch starts.
    public var nextOffset: Int64
    public var highWatermark: Int64
    /// Where a read_committed consumer stops: the last stable offset (the high watermark when
    /// the broker gives none).
    public var endOffset: Int64
}

extension KafkaCluster {
    /// ListOffsets for each partition: `timestamp` -2 is the log start, -1 the end, else the
    /// first offset at or after that time (the end when there is none).
    public func offsets(of topic: String, partitions: [Int32], timestamp: Int64) throws(ClientError) -> [Int32: Int64] {
        let metadata = try self.topic(topic)
        var result: [Int32: Int64] = [:]
        let byLeader = Dictionary(grouping: partitions) { partition in
            metadata.partitions.first { $0.partitionIndex == partition }?.leaderId ?? -1
        }
        for (leader, group) in byLeader.sorted(by: { $0.key < $1.key }) {
            guard leader >= 0 else { throw ClientError("topic \(topic): partitions \(group) have no leader now; try again") }
            let request = ListOffsetsRequest(
                replicaId: -1, isolationLevel: 1,
                topics: [
                    .init(name: topic, partitions: group.map { .init(partitionIndex: $0, currentLeaderEpoch: -1, timestamp: timestamp) })
                ])
            let (response, _) = try connection(to: leader).send(request)
            for partition in response.topics.flatMap(\.partitions) {
                try KafkaFailure.check(partition.errorCode, subject: "offsets of \(topic) partition \(partition.partitionIndex)")
                result[partition.partitionIndex] = partition.offset
            }
        }
        if timestamp >= 0 {
            // No record at or after that time: start at the end.
            let ends = try offsets(of: topic, partitions: partitions.filter { (result[$0] ?? -1) < 0 }, timestamp: -1)
            result.merge(ends) { _, end in end }
        }
        return result
    }

    /// One Fetch per leader for `positions` (partition to offset), waiting up to `maxWait`
    /// for records.
    public func fetch(_ topic: String, positions: [Int32: Int64], maxWaitMilliseconds: Int32) throws(ClientError) -> [FetchedPartition] {
        guard !positions.isEmpty else { return [] }
        let metadata = try self.topic(topic)
        var fetched: [FetchedPartition] = []
        let byLeader = Dictionary(grouping: positions.keys.sorted()) { partition in
            metadata.partitions.first { $0.partitionIndex == partition }?.leaderId ?? -1
        }
        for (leader, partitions) in byLeader.sorted(by: { $0.key < $1.key }) {
            guard leader >= 0 else { throw ClientError("topic \(topic): partitions \(partitions) have no leader now; try again") }
            let request = FetchRequest(
                replicaId: -1, maxWaitMs: maxWaitMilliseconds, minBytes: 1, maxBytes: 16 << 20, isolationLevel: 1, sessionId: 0,
                sessionEpoch: -1,
                topics: [
                    .init(
                        topic: topic, topicId: metadata.topicId,
                        partitions: partitions.map {
                            .init(
                                partition: $0, currentLeaderEpoch: -1, fetchOffset: positions[$0]!, logStartOffset: -1,
                                partitionMaxBytes: 4 << 20)
                        })
                ], forgottenTopicsData: [], rackId: "")
            let (response, _) = try connection(to: leader).send(request)
            try KafkaFailure.check(response.errorCode, subject: "fetching \(topic)")
            for partition in response.responses.flatMap(\.partitions) {
                try KafkaFailure.check(partition.errorCode, subject: "fetching \(topic) partition \(partition.partitionIndex)")
                let start = positions[partition.partitionIndex] ?? 0
                let (records, next) = try Self.committedRecords(
                    partition.records?.bytes ?? [], from: start, aborted: partition.abortedTransactions ?? [])
                fetched.append(
                    FetchedPartition(
                        partition: partition.partitionIndex, records: records, nextOffset: next, highWatermark: partition.highWatermark,
                        endOffset: partition.lastStableOffset >= 0 ? partition.lastStableOffset : partition.highWatermark))
            }
        }
        return fetched
    }

    /// The records of fetched batches from `start` on, without control batches and without
    /// the batches of aborted transactions (Kafka's read_committed consumer rules), and the
    /// offset after the last whole batch.
    static func committedRecords(_ bytes: [UInt8], from start: Int64, aborted: [FetchResponse.AbortedTransaction]) throws(ClientError)
        -> ([Record], Int64)
    {
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.batches(in: bytes, allowPartialTail: true)
        } catch {
            throw ClientError("fetched records do not decode: \(error)")
        }
        var pending = aborted.sorted { $0.firstOffset < $1.firstOffset }[...]
        var abortedProducers: Set<Int64> = []
        var records: [Record] = []
        var next = start
        for batch in batches {
            next = max(next, batch.nextOffset)
            while let first = pending.first, first.firstOffset <= batch.lastOffset {
                abortedProducers.insert(first.producerId)
                pending = pending.dropFirst()
            }
            if batch.isControl {
                abortedProducers.remove(batch.producerId)
                continue
            }
            if batch.isTransactional && abortedProducers.contains(batch.producerId) { continue }
            do {
                records += try batch.records().filter { $0.offset >= start }
            } catch {
                throw ClientError("fetched batch at offset \(batch.baseOffset) does not decode: \(error)")
            }
        }
        return (records, next)
    }
}
