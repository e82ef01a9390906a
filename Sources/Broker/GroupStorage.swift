// The group coordinator's ties to the rest of the broker: __consumer_offsets on the
// broker's own logs (created on first use, compacted, replayed at start-up), the topic
// catalog it resolves subscriptions against, and the thread that runs its deadlines.

import Coordinators
import KafkaRecords
import KafkaWire
import LogStorage
import SystemCalls

/// CoordinatorLog over the broker's partition logs.
final class OffsetsTopicLog: CoordinatorLog, @unchecked Sendable {
    let logs: LogManager
    let log: @Sendable (String) -> Void
    // `ensureTopic` is set once by the broker's init, before any request arrives, and
    // read under `lock` afterwards.
    private let lock = Lock()
    private var ensureTopicBody: (@Sendable () throws -> Void)?

    init(logs: LogManager, log: @escaping @Sendable (String) -> Void) {
        self.logs = logs
        self.log = log
    }

    func setEnsureTopic(_ body: @escaping @Sendable () throws -> Void) {
        lock.lock()
        ensureTopicBody = body
        lock.unlock()
    }

    /// Creates __consumer_offsets when it does not exist yet (FindCoordinator does this in
    /// Kafka too), so that it exists before a client looks for it.
    func ensureTopic() throws {
        lock.lock()
        let body = ensureTopicBody
        lock.unlock()
        try body?()
    }

    var partitionCount: Int32? {
        let count = logs.allPartitions.filter { $0.topic == OffsetsTopic.name }.count
        return count > 0 ? Int32(count) : nil
    }

    func partitionLog(_ partition: Int32) -> PartitionLog? {
        logs.partition(TopicPartition(topic: OffsetsTopic.name, partition: partition))
    }

    func append(_ records: [OffsetsTopic.Record], partition: Int32, now: Int64) throws {
        do {
            if partitionLog(partition) == nil { try ensureTopic() }  // waits for a creation in progress
            guard let partitionLog = partitionLog(partition) else {
                throw LogError.unknownPartition(TopicPartition(topic: OffsetsTopic.name, partition: partition))
            }
            let batch = try RecordBatchBuilder().build(records.enumerated().map {
                Record(offset: Int64($0.offset), timestamp: now, key: $0.element.key, value: $0.element.value)
            })
            _ = try partitionLog.append(batch, leaderEpoch: 0, now: now)
        } catch {
            log("cannot write to \(OffsetsTopic.name)-\(partition): \(error)")
            throw error
        }
    }

    /// Feeds every record of every partition to `apply`, in offset order per partition.
    /// Returns how many records were read.
    func replay(_ apply: ([UInt8], [UInt8]?) -> Void) throws -> Int {
        var count = 0
        for name in logs.allPartitions where name.topic == OffsetsTopic.name {
            guard let log = logs.partition(name) else { continue }
            var offset = log.logStartOffset
            while offset < log.logEndOffset {
                let read = try log.read(from: offset, maxBytes: 1 << 20, minOneBatch: true)
                guard !read.regions.isEmpty else { break }
                for region in read.regions {
                    let bytes = try region.file.read(count: region.length, at: region.position)
                    var start = 0
                    while start < bytes.count, let batch = try? RecordBatch(bytes: bytes, start: start) {
                        start += batch.totalSize
                        offset = batch.baseOffset + Int64(batch.lastOffsetDelta) + 1
                        // Control batches (transaction markers) carry no group state.
                        guard !batch.isControl else { continue }
                        for record in try batch.records() {
                            guard let key = record.key else { continue }
                            apply(key, record.value)
                            count += 1
                        }
                    }
                }
            }
        }
        return count
    }
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
        topics.all.map(\.name).filter { !$0.hasPrefix("__") }
    }
}

/// Calls the coordinator's deadline checks every `intervalMilliseconds` until stopped.
final class GroupDeadlineTicker: Sendable {
    private let thread: OSThread
    private let wake: Int32

    init(coordinator: GroupCoordinator, intervalMilliseconds: Int32 = 50) throws {
        let wake = try System.eventFileDescriptor()
        self.wake = wake
        do {
            thread = try OSThread(name: "swiftlet-groups") {
                while true {
                    if (try? System.waitReadable(wake, timeoutMilliseconds: intervalMilliseconds)) == true { return }
                    coordinator.expireDeadlines()
                }
            }
        } catch {
            System.close(wake)
            throw error
        }
    }

    func stop() {
        try? System.eventFileSignal(wake)
        thread.join()
        System.close(wake)
    }
}
