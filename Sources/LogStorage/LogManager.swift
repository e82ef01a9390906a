// Every partition log of one data directory: the directory lock, the clean-shutdown
// marker that decides whether logs are recovered on start, and the background thread that
// applies retention and the interval flush policy.

import Glibc
import KafkaWire
import SystemCalls

public final class LogManager: @unchecked Sendable {
    public let store: any FileStore
    public let flushPolicy: FlushPolicy
    /// What recovery cut at start-up, to be logged: a corrupt byte is reported, never skipped.
    public let recoveryEvents: [RecoveryEvent]
    /// Partitions that recovery truncated, with the bytes cut.
    public var recoveredPartitions: [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for event in recoveryEvents where event.truncatedBytes > 0 {
            if let partition = TopicPartition(directoryName: String(event.path.split(separator: "/").first ?? "")) {
                result[partition, default: 0] += event.truncatedBytes
            }
        }
        return result
    }
    // `lock` guards `partitions` and `cleaner`.
    private let lock = Lock()
    private var partitions: [TopicPartition: PartitionLog] = [:]
    /// The thread of retention, compaction, producer expiry and interval flushes.
    private var cleaner: WorkQueue?
    private let lockFile: LogFile?
    /// The fsync thread, for FlushPolicy.everyAppend.
    private let syncQueue: SyncQueue?
    /// Flushes the segments below a roll and advances the recovery point (on disk only).
    private let rollFlusher: WorkQueue?
    /// A roll's flush, as Kafka's: the segments it closed reach the disk and the recovery
    /// point moves past them, so that a restart after a kill -9 re-reads only what follows.
    /// Called with the partition's lock held, hence queued and never run in place.
    private let flushAtRoll: (@Sendable (PartitionLog) -> Void)?

    static let cleanShutdownMarker = ".swiftlet-clean-shutdown"
    static let lockName = ".lock"

    /// Partition directories removed at start-up because no topic owns them (a deletion or
    /// a CreatePartitions that a stop interrupted), to be logged.
    public let sweptDirectories: [String]

    /// A deleted partition's directory is renamed to `<name>.<id>-delete` before its files
    /// go, as Kafka does, so that a stop halfway leaves nothing under the partition's name.
    static let deletedSuffix = "-delete"

    /// Opens a data directory (on disk, or in memory when `dataDirectory` is nil), locks it
    /// against a second broker, and loads every partition found in it that `isRegistered`,
    /// recovering them when the last stop was not clean. Other partition directories, and
    /// those of deletions a stop interrupted, are removed unread.
    public init(
        dataDirectory: String?, configuration: (TopicPartition) -> LogConfiguration,
        isRegistered: (TopicPartition) -> Bool = { _ in true },
        flushPolicy: FlushPolicy = .never, now: Int64 = System.wallClockMilliseconds()
    ) throws(LogError) {
        self.flushPolicy = flushPolicy
        do {
            syncQueue = flushPolicy == .everyAppend ? try SyncQueue() : nil
            rollFlusher = dataDirectory == nil ? nil : try WorkQueue(name: "swiftlet-flush")
        } catch { throw .io(error) }
        if let queue = rollFlusher {
            flushAtRoll = { log in queue.executeIfRunning { try? log.flush() } }
        } else {
            flushAtRoll = nil
        }
        if let dataDirectory {
            let disk = DiskFileStore(root: dataDirectory)
            store = disk
            do {
                try System.makeDirectory(dataDirectory)
                let file = try disk.open(Self.lockName, create: true)
                guard try System.tryLockExclusive(file.descriptor) else { throw LogError.dataDirectoryLocked(dataDirectory) }
                lockFile = file
            } catch let error as LogError {
                throw error
            } catch let error as SystemCallError {
                throw .io(error)
            } catch {
                throw .dataDirectoryLocked(dataDirectory)
            }
        } else {
            store = MemoryFileStore()
            lockFile = nil
        }
        let clean = store.exists(Self.cleanShutdownMarker)
        // The marker only vouches for the stop that wrote it.
        try? store.remove(Self.cleanShutdownMarker)
        var events: [RecoveryEvent] = []
        let names: [String]
        do { names = try store.list("") } catch { throw .io(error) }
        var swept: [String] = []
        for name in names {
            if name.hasSuffix(Self.deletedSuffix) {
                try? Self.removeTree(name, in: store)
                continue
            }
            guard let topicPartition = TopicPartition(directoryName: name) else { continue }
            guard isRegistered(topicPartition) else {
                try? Self.removeTree(name, in: store)
                swept.append(name)
                continue
            }
            let (log, recovery) = try PartitionLog.open(
                topicPartition, store: store, configuration: configuration(topicPartition),
                recover: !clean, now: now)
            log.rollHook = flushAtRoll
            partitions[topicPartition] = log
            events += recovery
        }
        recoveryEvents = events
        sweptDirectories = swept
    }

    private static func removeTree(_ directory: String, in store: any FileStore) throws(SystemCallError) {
        for name in try store.list(directory) { try store.remove(directory + "/" + name) }
        try store.removeDirectory(directory)
    }

    public func partition(_ topicPartition: TopicPartition) -> PartitionLog? {
        lock.withLock { partitions[topicPartition] }
    }

    public var allPartitions: [TopicPartition] {
        lock.withLock { partitions.keys.sorted() }
    }

    public func createPartition(
        _ topicPartition: TopicPartition, configuration: LogConfiguration,
        now: Int64 = System.wallClockMilliseconds()
    ) throws(LogError) -> PartitionLog {
        try lock.withLock { () throws(LogError) in
            if partitions[topicPartition] != nil { throw .partitionExists(topicPartition) }
            let log = try PartitionLog.create(topicPartition, store: store, configuration: configuration, now: now)
            log.rollHook = flushAtRoll
            partitions[topicPartition] = log
            return log
        }
    }

    /// Removes a partition and its files; readers holding its segments finish first.
    public func deletePartition(_ topicPartition: TopicPartition) throws(LogError) {
        guard let removed = lock.withLock({ partitions.removeValue(forKey: topicPartition) }) else {
            throw .unknownPartition(topicPartition)
        }
        removed.markDeleted()
        var directory = topicPartition.directoryName
        do {
            if store.isDurable {
                let renamed = directory + "." + Uuid.random().description.filter { $0 != "-" } + Self.deletedSuffix
                try store.rename(directory, to: renamed)
                directory = renamed
            }
            try Self.removeTree(directory, in: store)
        } catch {
            throw .io(error)
        }
    }

    /// Calls `completion` once what was appended to `log` so far is as durable as the flush
    /// policy promises: at once under the page-cache policies, after an fsync on the sync
    /// thread under `.everyAppend` (acks=all waits for this; the reactor never blocks).
    public func whenDurable(_ log: PartitionLog, _ completion: @escaping @Sendable (LogError?) -> Void) {
        guard let syncQueue else {
            completion(nil)
            return
        }
        syncQueue.enqueue(log, completion: completion)
    }

    // MARK: Background work

    private func openLogs() -> [PartitionLog] {
        lock.withLock { Array(partitions.values) }
    }

    /// Starts the cleaner thread: retention every `retentionCheckMilliseconds` (Kafka's
    /// log.retention.check.interval.ms), compaction of compacted topics every
    /// `compactionCheckMilliseconds` (log.cleaner.backoff.ms), idle producers forgotten after
    /// `producerIdExpiration.milliseconds` checked every `.checkIntervalMilliseconds`
    /// (producer.id.expiration.ms and its check interval), and the interval flush policy.
    public func startBackgroundWork(
        retentionCheckMilliseconds: Int = 300_000, compactionCheckMilliseconds: Int = 15_000,
        producerIdExpiration: (milliseconds: Int64, checkIntervalMilliseconds: Int) = (86_400_000, 600_000),
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(LogError) {
        let cleaner: WorkQueue
        do { cleaner = try WorkQueue(name: "swiftlet-cleaner") } catch { throw .io(error) }
        cleaner.every(milliseconds: retentionCheckMilliseconds) { [self] in
            for partition in openLogs() {
                do {
                    let deleted = try partition.applyRetention(now: System.wallClockMilliseconds())
                    if deleted > 0 { log("retention deleted \(deleted) segment(s) of \(partition.topicPartition)") }
                } catch {
                    log("retention of \(partition.topicPartition) failed: \(error)")
                }
            }
        }
        cleaner.every(milliseconds: compactionCheckMilliseconds) { [self] in
            for partition in openLogs() where partition.currentConfiguration.cleanupPolicy.compacts {
                do {
                    let result = try partition.compact(now: System.wallClockMilliseconds())
                    if result.recordsRemoved > 0 {
                        log(
                            "compacted \(partition.topicPartition): \(result.recordsRemoved) records, \(result.bytesBefore) -> \(result.bytesAfter) bytes"
                        )
                    }
                } catch {
                    log("compaction of \(partition.topicPartition) failed: \(error)")
                }
            }
        }
        cleaner.every(milliseconds: producerIdExpiration.checkIntervalMilliseconds) { [self] in
            let now = System.wallClockMilliseconds()
            let forgotten = openLogs().reduce(0) {
                $0 + $1.removeExpiredProducers(now: now, expirationMilliseconds: producerIdExpiration.milliseconds)
            }
            if forgotten > 0 { log("forgot \(forgotten) idle producer state(s)") }
        }
        if case .everyMilliseconds(let interval) = flushPolicy {
            cleaner.every(milliseconds: interval) { [self] in
                for partition in openLogs() { try? partition.flush() }
            }
        }
        lock.withLock { self.cleaner = cleaner }
    }

    /// Flushes every partition it can, writes the clean-shutdown marker when all of them were
    /// closed cleanly, and stops the cleaner; the partitions that could not be closed (a full
    /// disk takes the checkpoints) are named in the error, and the next start recovers them.
    /// The directory lock is released last, so that another broker in the same process (an
    /// embedded one restarted by a test) may open the directory.
    public func shutdown() throws(LogError) {
        let cleaner = lock.withLock {
            defer { self.cleaner = nil }
            return self.cleaner
        }
        cleaner?.stop()
        rollFlusher?.stop()
        let logs = openLogs()
        syncQueue?.stop()
        var failures: [String] = []
        for log in logs {
            do { try log.closeCleanly() } catch { failures.append("\(log.topicPartition): \(error)") }
        }
        guard failures.isEmpty else { throw .unclosedPartitions(failures) }
        do {
            let marker = try store.open(Self.cleanShutdownMarker, create: true)
            try store.sync(marker)
            if let lockFile { try System.unlock(lockFile.descriptor) }
        } catch {
            throw .io(error)
        }
    }
}
