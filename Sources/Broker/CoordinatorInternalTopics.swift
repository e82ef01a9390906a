// The coordinators' ties to the rest of the broker: their internal topics
// (__consumer_offsets, __transaction_state) on the broker's own logs (created on first use,
// compacted, replayed at start-up), the topic catalog groups resolve subscriptions against,
// the transaction markers, and the thread that runs their deadlines.

import Coordinators
import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import SystemCalls

/// One entry of an internal topic as replay sees it.
enum InternalTopicEntry {
    /// A record; `producerId` when it came in a transactional batch.
    case record(key: [UInt8], value: [UInt8]?, producerId: Int64?)
    /// A COMMIT or ABORT marker of `producerId` in `partition`.
    case marker(producerId: Int64, commit: Bool, partition: Int32)
}

/// CoordinatorLog over the broker's partition logs, for one internal topic.
final class InternalTopicLog: CoordinatorLog, @unchecked Sendable {
    let name: String
    let logs: LogManager
    let topics: TopicRegistry
    let log: @Sendable (String) -> Void
    /// The broker the topic belongs to: set once by its init, before any request arrives,
    /// and read under `lock` afterwards.
    private let lock = Lock()
    private weak var owner: Broker?

    init(name: String, logs: LogManager, topics: TopicRegistry, log: @escaping @Sendable (String) -> Void) {
        self.name = name
        self.logs = logs
        self.topics = topics
        self.log = log
    }

    func attach(to broker: Broker) {
        lock.withLock { owner = broker }
    }

    private var broker: Broker? { lock.withLock { owner } }

    /// Creates the topic when it does not exist yet (FindCoordinator does this in Kafka
    /// too), so that it exists before a client looks for it.
    func ensureTopic() throws {
        try broker?.ensureInternalTopic(named: name)
    }

    /// nil when another broker leads `partition`: its log here is a follower's copy.
    private func leaderEpoch(_ partition: TopicPartition) -> Int32? {
        guard let broker else { return 0 }
        return broker.leaderEpochHere(of: partition)
    }

    func whenReplicated(partition: Int32, _ done: @escaping @Sendable (ErrorCode) -> Void) {
        guard let broker else { return done(.none) }
        broker.whenCoordinatorWriteReplicated(TopicPartition(topic: name, partition: partition), done)
    }

    /// Asked for every commit (the group's partition): a registry lookup, not a scan.
    var partitionCount: Int32? { topics.topic(named: name)?.partitions }

    func partitionLog(_ partition: Int32) -> PartitionLog? {
        logs.partition(TopicPartition(topic: name, partition: partition))
    }

    func write(_ records: [CoordinatorRecord], partition: Int32, now: Int64, producer: (id: Int64, epoch: Int16)?) throws {
        do {
            if partitionLog(partition) == nil { try ensureTopic() }  // waits for a creation in progress
            guard let partitionLog = partitionLog(partition), let leaderEpoch = leaderEpoch(partitionLog.topicPartition) else {
                throw CoordinatorWriteError.unknownPartition(TopicPartition(topic: name, partition: partition))
            }
            var builder = RecordBatchBuilder()
            if let producer {
                builder.isTransactional = true
                builder.producerId = producer.id
                builder.producerEpoch = producer.epoch
            }
            let batch = try builder.build(
                records.enumerated().map {
                    Record(offset: Int64($0.offset), timestamp: now, key: $0.element.key, value: $0.element.value)
                })
            _ = try partitionLog.append(batch, leaderEpoch: leaderEpoch, now: now)
        } catch {
            // Logged as the log said it (with the epochs), then named as coordinators know it.
            log("cannot write to \(name)-\(partition): \(error)")
            throw CoordinatorWriteError(error) ?? error
        }
    }

    /// Feeds every record and marker of every partition (or of those named) to `apply`, in
    /// offset order per partition, up to each log's end. Returns how many records were read.
    func replay(partitions only: Set<Int32>? = nil, _ apply: (InternalTopicEntry) -> Void) throws -> Int {
        var count = 0
        for partition in logs.allPartitions where partition.topic == name && only.map({ $0.contains(partition.partition) }) ?? true {
            guard let log = logs.partition(partition) else { continue }
            var offset = log.logStartOffset
            while offset < log.logEndOffset {
                let read = try log.read(from: offset, maxBytes: 1 << 20, minOneBatch: true, asReplica: true)
                guard !read.regions.isEmpty else { break }
                for region in read.regions {
                    let bytes = try region.file.read(count: region.length, at: region.position)
                    var start = 0
                    while start < bytes.count, let batch = try? RecordBatch(bytes: bytes, start: start) {
                        start += batch.totalSize
                        offset = batch.baseOffset + Int64(batch.lastOffsetDelta) + 1
                        let records = try batch.records()
                        if batch.isControl {
                            if let marker = records.first.flatMap({ try? TransactionMarker(record: $0) }) {
                                apply(.marker(producerId: batch.producerId, commit: marker.type == .commit, partition: partition.partition))
                            }
                            continue
                        }
                        for record in records {
                            guard let key = record.key else { continue }
                            apply(.record(key: key, value: record.value, producerId: batch.isTransactional ? batch.producerId : nil))
                            count += 1
                        }
                    }
                }
            }
        }
        return count
    }
}

extension CoordinatorWriteError {
    /// The coordinators' name for a log failure they answer differently; nil for the rest.
    init?(_ error: any Error) {
        guard case LogError.sequence(.invalidProducerEpoch) = error else { return nil }
        self = .fencedProducerEpoch
    }
}

/// Transaction markers on the broker's logs; a marker on __consumer_offsets also settles
/// the producer's transactional offsets there.
struct BrokerMarkerWriter {
    let logs: LogManager
    let groups: GroupCoordinator

    func writeMarker(to partition: TopicPartition, producerId: Int64, producerEpoch: Int16, commit: Bool) throws {
        guard let log = logs.partition(partition) else { throw CoordinatorWriteError.unknownPartition(partition) }
        do {
            try log.appendTransactionMarker(
                producerId: producerId, producerEpoch: producerEpoch, commit: commit, coordinatorEpoch: 0,
                now: System.wallClockMilliseconds())
        } catch {
            throw CoordinatorWriteError(error) ?? error
        }
        if partition.topic == OffsetsTopic.name {
            groups.completeTransaction(producerId: producerId, offsetsPartition: partition.partition, commit: commit)
        }
    }
}

extension ProducerIds: ProducerIdSource {
    func nextProducerId() throws -> Int64 { try next() }
}

/// The coordinator's view of the topics.
struct RegistryTopicCatalog: GroupTopicCatalog {
    let topics: TopicRegistry

    func topic(named name: String) -> (id: Uuid, partitions: Int32)? {
        guard let topic = topics.topic(named: name) else { return nil }
        return (topic.topicId, topic.partitions)
    }

    func topicName(id: Uuid) -> String? {
        topics.topic(id: id)?.name
    }

    func subscribableTopicNames() -> [String] {
        topics.all.filter { !$0.isInternal }.map(\.name)
    }
}
