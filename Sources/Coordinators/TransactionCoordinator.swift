// The transaction coordinator: every transactional id of this broker, Kafka's state machine
// (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead,
// PrepareEpochFence) for transactions protocol version 1, persisted in __transaction_state.
// Ending a transaction stores the decision, waits until it is replicated, writes the COMMIT
// or ABORT markers through TransactionMarkerWriter, and answers once they are written.

import KafkaProtocol
import KafkaWire
import Logging
import SystemCalls

public enum TransactionState: Int8, Sendable, CaseIterable {
    case empty = 0
    case ongoing = 1
    case prepareCommit = 2
    case prepareAbort = 3
    case completeCommit = 4
    case completeAbort = 5
    case dead = 6
    case prepareEpochFence = 7

    /// Kafka's names (DescribeTransactions, ListTransactions).
    public var name: String {
        switch self {
        case .empty: "Empty"
        case .ongoing: "Ongoing"
        case .prepareCommit: "PrepareCommit"
        case .prepareAbort: "PrepareAbort"
        case .completeCommit: "CompleteCommit"
        case .completeAbort: "CompleteAbort"
        case .dead: "Dead"
        case .prepareEpochFence: "PrepareEpochFence"
        }
    }
}

/// Writes transaction markers to data partitions (and completes transactional offsets when
/// the partition is one of __consumer_offsets). The broker implements it.
public protocol TransactionMarkerWriter: Sendable {
    /// Writes the producer's COMMIT or ABORT marker to each partition, then calls `done` with
    /// the partitions whose marker is not written and replicated (to be tried again). A
    /// partition deleted meanwhile counts as written. On any thread, possibly before it returns.
    func writeMarkers(
        to partitions: [TopicPartition], producerId: Int64, producerEpoch: Int16, commit: Bool,
        _ done: @escaping @Sendable (_ unwritten: Set<TopicPartition>) -> Void)
}

public protocol ProducerIdSource: Sendable {
    func nextProducerId() throws -> Int64
}

public struct TransactionConfiguration: Sendable {
    /// transaction.max.timeout.ms
    public var maximumTimeoutMilliseconds: Int32 = 900_000
    /// transactional.id.expiration.ms
    public var transactionalIdExpirationMilliseconds: Int64 = 604_800_000
    /// transactions.remove.expired.transaction.cleanup.interval.ms: how often idle ids are
    /// looked for (open transactions' timeouts are checked on every tick).
    public var transactionalIdExpirationCheckIntervalMilliseconds: Int64 = 3_600_000
    /// transaction.state.log.num.partitions
    public var stateTopicPartitions: Int32 = 50

    public init() {}
}

/// One transactional id's state.
public struct TransactionMetadata: Sendable, Equatable {
    public var transactionalId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    /// The epoch before the last bump, so a retried InitProducerId is recognised (KIP-360).
    public var lastProducerEpoch: Int16 = -1
    public var timeoutMilliseconds: Int32
    public var state: TransactionState
    public var partitions: Set<TopicPartition> = []
    public var startTimestamp: Int64 = -1
    public var lastUpdateTimestamp: Int64
}

public final class TransactionCoordinator: @unchecked Sendable {
    public static let stateTopic = "__transaction_state"
    public let configuration: TransactionConfiguration
    let clock: @Sendable () -> Int64
    let log: any CoordinatorLog
    let markers: any TransactionMarkerWriter
    let producerIds: any ProducerIdSource
    // Everything below is read and written under `lock`, never held while markers are written.
    private let lock = Lock()
    private var transactions = TransactionTable()
    /// Decided transactions whose completion (`complete`) is under way, one at a time each, by
    /// the claim's number: a completion that outlived an unload and reload ends only its own.
    private var completing: [String: UInt64] = [:]
    private var nextClaim: UInt64 = 0
    private var transactionalIds: [Int64: String] = [:]
    private var nextIdExpirationCheck: Int64 = .min

    /// State changes go here at debug level.
    let logger: Logger

    public init(
        configuration: TransactionConfiguration, log: any CoordinatorLog, markers: any TransactionMarkerWriter,
        producerIds: any ProducerIdSource, clock: @escaping @Sendable () -> Int64,
        logger: Logger = Logger(label: "swiftlet.transactions", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.logger = logger
        self.configuration = configuration
        self.log = log
        self.markers = markers
        self.producerIds = producerIds
        self.clock = clock
    }

    private func withLock<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// The partition of __transaction_state that holds `transactionalId`.
    public func statePartition(for transactionalId: String) -> Int32 {
        InternalTopic.partition(for: transactionalId, partitions: log.partitionCount ?? configuration.stateTopicPartitions)
    }

    // MARK: InitProducerId

    public struct InitResult: Sendable, Equatable {
        public var error: ErrorCode
        public var producerId: Int64 = -1
        public var producerEpoch: Int16 = -1
    }

    /// InitProducerId for a transactional id: a new producer id, or the next epoch of the
    /// current one. An open transaction of the previous incarnation is aborted with a bumped
    /// epoch first (the fence), as Kafka's PrepareEpochFence does.
    public func initProducerId(transactionalId: String, timeoutMilliseconds: Int32, producerId: Int64, producerEpoch: Int16) -> InitResult {
        guard !transactionalId.isEmpty else { return InitResult(error: .invalidRequest) }
        guard timeoutMilliseconds > 0, timeoutMilliseconds <= configuration.maximumTimeoutMilliseconds else {
            return InitResult(error: .invalidTransactionTimeout)
        }
        let step = withLock { () -> InitStep in
            let now = clock()
            guard var metadata = transactions[transactionalId] else {
                do {
                    let id = try producerIds.nextProducerId()
                    let metadata = TransactionMetadata(
                        transactionalId: transactionalId, producerId: id, producerEpoch: 0,
                        timeoutMilliseconds: timeoutMilliseconds, state: .empty, lastUpdateTimestamp: now)
                    guard store(metadata, now: now) else { return .answered(InitResult(error: .coordinatorNotAvailable)) }
                    return .answered(InitResult(error: .none, producerId: id, producerEpoch: 0))
                } catch {
                    return .answered(InitResult(error: .coordinatorNotAvailable))
                }
            }
            // KIP-360: a producer that says who it was must be the current incarnation (or
            // retrying the bump it asked for); one that does not is a new incarnation.
            let current = producerId >= 0 && producerId == metadata.producerId && producerEpoch == metadata.producerEpoch
            if producerId >= 0 && !current {
                let retry = producerId == metadata.producerId && producerEpoch == metadata.lastProducerEpoch
                if retry {
                    return .answered(InitResult(error: .none, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch))
                }
                return .answered(InitResult(error: .producerFenced))
            }
            switch metadata.state {
            case .prepareCommit, .prepareAbort, .prepareEpochFence:
                return .answered(InitResult(error: .concurrentTransactions))
            case .ongoing:
                // Fence the previous incarnation: abort its transaction under a new epoch.
                fence(&metadata, keepingLastEpoch: false)
                guard let completion = prepare(&metadata, commit: false, now: now) else {
                    return .answered(InitResult(error: .coordinatorNotAvailable))
                }
                return .fencing(completion, current: current)
            case .empty, .completeCommit, .completeAbort, .dead:
                return .answered(reinitialise(&metadata, current: current, timeoutMilliseconds: timeoutMilliseconds, now: now))
            }
        }
        switch step {
        case .answered(let result):
            return result
        case .fencing(let fenced, let current):
            complete(fenced)
            // Without replication and with local partitions the abort is complete by now; else the
            // client retries until it is.
            return withLock {
                guard var metadata = transactions[transactionalId], metadata.state == .completeAbort,
                    metadata.producerId == fenced.producerId, metadata.producerEpoch == fenced.producerEpoch
                else { return InitResult(error: .concurrentTransactions) }
                return reinitialise(&metadata, current: current, timeoutMilliseconds: timeoutMilliseconds, now: clock())
            }
        }
    }

    private enum InitStep {
        case answered(InitResult)
        /// The open transaction of the previous incarnation is being aborted first.
        case fencing(Completion, current: Bool)
    }

    /// Lock held. The producer's next epoch, stored with no transaction open.
    private func reinitialise(_ metadata: inout TransactionMetadata, current: Bool, timeoutMilliseconds: Int32, now: Int64) -> InitResult {
        guard bumpEpoch(&metadata, keepingLastEpoch: current) else { return InitResult(error: .coordinatorNotAvailable) }
        metadata.timeoutMilliseconds = timeoutMilliseconds
        metadata.state = .empty
        metadata.partitions = []
        metadata.startTimestamp = -1
        guard store(metadata, now: now) else { return InitResult(error: .coordinatorNotAvailable) }
        return InitResult(error: .none, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch)
    }

    /// Lock held. The next epoch for a (re)initialised producer, or a new producer id when the
    /// epoch is exhausted. Only the current incarnation bumping itself (KIP-360) keeps the
    /// epoch it had, so that a retry of that bump is recognised; for a new incarnation an
    /// older epoch is never valid again.
    private func bumpEpoch(_ metadata: inout TransactionMetadata, keepingLastEpoch: Bool) -> Bool {
        metadata.lastProducerEpoch = keepingLastEpoch ? metadata.producerEpoch : -1
        if metadata.producerEpoch >= Int16.max - 1 {
            guard let id = try? producerIds.nextProducerId() else { return false }
            transactionalIds[metadata.producerId] = nil
            metadata.producerId = id
            metadata.producerEpoch = 0
            metadata.lastProducerEpoch = -1
        } else {
            metadata.producerEpoch += 1
        }
        return true
    }

    /// Lock held. The epoch that fences a transaction's producer before its abort markers
    /// are written: never a new producer id (the markers must end that producer's open
    /// transactions), so it may reach Int16.max; the next InitProducerId then rotates.
    /// A timed-out producer keeps its old epoch as the last one, so that it may recover with
    /// InitProducerId (KIP-588); a new incarnation does not.
    private func fence(_ metadata: inout TransactionMetadata, keepingLastEpoch: Bool) {
        metadata.lastProducerEpoch = keepingLastEpoch ? metadata.producerEpoch : -1
        if metadata.producerEpoch < Int16.max { metadata.producerEpoch += 1 }
    }

    // MARK: Adding partitions

    /// Lock held. The checks every transactional request makes of the producer.
    private func validate(_ transactionalId: String, producerId: Int64, producerEpoch: Int16) -> (TransactionMetadata?, ErrorCode) {
        guard let metadata = transactions[transactionalId], metadata.producerId == producerId else {
            return (nil, .invalidProducerIdMapping)
        }
        guard metadata.producerEpoch == producerEpoch else { return (nil, .producerFenced) }
        switch metadata.state {
        case .prepareCommit, .prepareAbort, .prepareEpochFence: return (nil, .concurrentTransactions)
        case .dead: return (nil, .invalidProducerIdMapping)
        default: return (metadata, .none)
        }
    }

    /// AddPartitionsToTxn and AddOffsetsToTxn: the partitions join the transaction, which
    /// starts if none was open.
    public func addPartitions(transactionalId: String, producerId: Int64, producerEpoch: Int16, partitions: [TopicPartition]) -> ErrorCode {
        withLock {
            let now = clock()
            let (found, error) = validate(transactionalId, producerId: producerId, producerEpoch: producerEpoch)
            guard var metadata = found else { return error }
            if metadata.state != .ongoing {
                metadata.state = .ongoing
                metadata.partitions = []
                metadata.startTimestamp = now
            }
            let before = metadata.partitions
            metadata.partitions.formUnion(partitions)
            guard metadata.partitions != before || transactions[transactionalId]?.state != .ongoing else { return .none }
            return store(metadata, now: now) ? .none : .coordinatorNotAvailable
        }
    }

    /// Produce checks a transactional batch against it (Kafka's partition verification): the
    /// producer must be the current epoch of a transaction that holds the partition.
    public func verify(producerId: Int64, producerEpoch: Int16, partition: TopicPartition) -> ErrorCode {
        withLock {
            guard let id = transactionalIds[producerId], let metadata = transactions[id] else { return .invalidProducerIdMapping }
            if producerEpoch < metadata.producerEpoch { return .invalidProducerEpoch }
            guard metadata.state == .ongoing, metadata.partitions.contains(partition) else { return .invalidTxnState }
            return .none
        }
    }

    // MARK: EndTxn

    /// Commits or aborts the open transaction: PrepareCommit/PrepareAbort is stored, then
    /// `complete` runs it to its end and `answer` hears the outcome.
    public func endTransaction(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, commit: Bool,
        answer: @escaping @Sendable (ErrorCode) -> Void
    ) {
        let step = withLock { () -> EndStep in
            let now = clock()
            let (found, error) = validate(transactionalId, producerId: producerId, producerEpoch: producerEpoch)
            let preparing = commit ? TransactionState.prepareCommit : .prepareAbort
            if error == .concurrentTransactions, var metadata = transactions[transactionalId], metadata.state == preparing,
                completing[transactionalId] == nil
            {
                // A retry after the decision could not be replicated: run it to its end again.
                return prepare(&metadata, commit: commit, now: now).map(EndStep.completing) ?? .answered(.coordinatorNotAvailable)
            }
            guard var metadata = found else { return .answered(error) }
            switch metadata.state {
            case .ongoing:
                return prepare(&metadata, commit: commit, now: now).map(EndStep.completing) ?? .answered(.coordinatorNotAvailable)
            case .completeCommit:
                return .answered(commit ? .none : .invalidTxnState)  // a retried commit
            case .completeAbort:
                return .answered(commit ? .invalidTxnState : .none)
            default:
                return .answered(.invalidTxnState)
            }
        }
        switch step {
        case .completing(let completion): complete(completion, answer: answer)
        case .answered(let error): answer(error)
        }
    }

    private enum EndStep {
        case answered(ErrorCode)
        case completing(Completion)
    }

    /// A transaction whose decision is stored, to be run to its end by `complete`.
    private struct Completion: Sendable {
        let transactionalId: String
        let producerId: Int64
        let producerEpoch: Int16
        let commit: Bool
        let partitions: [TopicPartition]
        let claim: UInt64
    }

    /// Lock held. Stores the decision (PrepareCommit/PrepareAbort) unless it is stored already,
    /// and claims the transaction's completion for `complete`; nil when the log refused it.
    private func prepare(_ metadata: inout TransactionMetadata, commit: Bool, now: Int64) -> Completion? {
        let preparing = commit ? TransactionState.prepareCommit : .prepareAbort
        if metadata.state != preparing {
            metadata.state = preparing
            guard store(metadata, now: now) else { return nil }
        }
        nextClaim += 1
        completing[metadata.transactionalId] = nextClaim
        return Completion(
            transactionalId: metadata.transactionalId, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch,
            commit: commit, partitions: metadata.partitions.sorted(), claim: nextClaim)
    }

    /// Lock held. Ends `completion`'s claim; false when it is no longer the claim in force.
    @discardableResult
    private func release(_ completion: Completion) -> Bool {
        guard completing[completion.transactionalId] == completion.claim else { return false }
        completing[completion.transactionalId] = nil
        return true
    }

    /// Lock not held. Runs a decided transaction to its end, as Kafka does: once the decision
    /// is on its partition's in-sync replicas (so that a coordinator elected after a failover
    /// finds it before any marker exists), the markers are written, then CompleteCommit or
    /// CompleteAbort. Partitions whose marker could not be written keep the transaction in its
    /// Prepare state; the deadline pass retries them, as Kafka retries markers, until every
    /// one is written. `answer` hears NONE once the markers were tried (the decision stands),
    /// or why the decision may not be replicated (the client retries).
    private func complete(_ completion: Completion, answer: (@Sendable (ErrorCode) -> Void)? = nil) {
        let id = completion.transactionalId
        log.whenReplicated(partition: statePartition(for: id)) { [self] error in
            guard error == .none else {
                withLock { release(completion) }
                answer?(error)
                return
            }
            markers.writeMarkers(
                to: completion.partitions, producerId: completion.producerId, producerEpoch: completion.producerEpoch,
                commit: completion.commit
            ) { [self] unwritten in
                withLock {
                    guard release(completion) else { return }
                    // Unloaded (another broker coordinates it now) or replayed anew meanwhile: not ours.
                    guard var metadata = transactions[id], metadata.producerId == completion.producerId,
                        metadata.producerEpoch == completion.producerEpoch,
                        metadata.state == (completion.commit ? .prepareCommit : .prepareAbort)
                    else { return }
                    if unwritten.isEmpty {
                        metadata.state = completion.commit ? .completeCommit : .completeAbort
                        metadata.partitions = []
                    } else {
                        metadata.partitions = unwritten
                    }
                    _ = store(metadata, now: clock())
                }
                answer?(.none)
            }
        }
    }

    // MARK: Expiry

    /// Aborts transactions open longer than their timeout (fencing the producer with a new
    /// epoch, as Kafka does) and forgets transactional ids idle past their expiration.
    public func expireTransactions() {
        let decided = withLock { () -> [Completion] in
            var decided: [Completion] = []
            let now = clock()
            // Every tick looks at the unfinished transactions only; all ids, for expiration,
            // once per check interval (there may be many: a transactional id lives a week).
            let checkIds = now >= nextIdExpirationCheck
            if checkIds { nextIdExpirationCheck = now.clampedAdding(configuration.transactionalIdExpirationCheckIntervalMilliseconds) }
            for id in checkIds ? Array(transactions.byId.keys) : Array(transactions.unfinished) {
                guard var metadata = transactions[id] else { continue }
                switch metadata.state {
                case .ongoing where now.clampedSubtracting(metadata.startTimestamp) > Int64(metadata.timeoutMilliseconds):
                    fence(&metadata, keepingLastEpoch: true)
                    if let completion = prepare(&metadata, commit: false, now: now) { decided.append(completion) }
                case .prepareCommit, .prepareAbort:
                    guard completing[id] == nil else { continue }
                    if let completion = prepare(&metadata, commit: metadata.state == .prepareCommit, now: now) {
                        decided.append(completion)
                    }
                case .empty, .completeCommit, .completeAbort:
                    // (A `where` here would bind to the last pattern only.)
                    guard now.clampedSubtracting(metadata.lastUpdateTimestamp) > configuration.transactionalIdExpirationMilliseconds else {
                        continue
                    }
                    let record = CoordinatorRecord(key: Self.key(id), value: nil)
                    if (try? log.append([record], partition: statePartition(for: id), now: now)) != nil {
                        transactions[id] = nil
                        transactionalIds[metadata.producerId] = nil
                    }
                default:
                    break
                }
            }
            return decided
        }
        for completion in decided { complete(completion) }
    }

    // MARK: Persistence

    /// Lock held. Writes the state to __transaction_state and keeps it; false when the
    /// log refused it (then nothing changed).
    private func store(_ metadata: TransactionMetadata, now: Int64) -> Bool {
        var updated = metadata
        updated.lastUpdateTimestamp = now
        let value = TransactionLogValue(
            producerId: updated.producerId, producerEpoch: updated.producerEpoch, transactionTimeoutMs: updated.timeoutMilliseconds,
            transactionStatus: updated.state.rawValue,
            transactionPartitions: Dictionary(grouping: updated.partitions, by: \.topic).sorted { $0.key < $1.key }.map {
                .init(topic: $0.key, partitionIds: $0.value.map(\.partition).sorted())
            },
            transactionLastUpdateTimestampMs: now, transactionStartTimestampMs: updated.startTimestamp)
        let record = CoordinatorRecord(
            key: Self.key(metadata.transactionalId), value: InternalTopic.encode(value, version: 0, messageVersion: 0))
        do {
            try log.append([record], partition: statePartition(for: metadata.transactionalId), now: now)
        } catch {
            logger.warning("transaction \(metadata.transactionalId): cannot write \(Self.stateTopic): \(error)")
            return false
        }
        if transactions[metadata.transactionalId]?.state != updated.state {
            logger.debug(
                "transaction \(metadata.transactionalId) (producer id \(updated.producerId), epoch \(updated.producerEpoch)): \(updated.state.name)"
            )
        }
        if let previous = transactions[metadata.transactionalId], previous.producerId != updated.producerId {
            transactionalIds[previous.producerId] = nil
        }
        transactions[metadata.transactionalId] = updated
        transactionalIds[updated.producerId] = metadata.transactionalId
        return true
    }

    static func key(_ transactionalId: String) -> [UInt8] {
        InternalTopic.encode(TransactionLogKey(transactionalId: transactionalId), version: 0, messageVersion: 0)
    }

    /// Applies one record of __transaction_state (start-up). False when undecodable.
    @discardableResult
    public func replay(key: [UInt8], value: [UInt8]?) -> Bool {
        var keyReader = ByteReader(key)
        guard let keyVersion = try? keyReader.readInt16(), keyVersion == 0,
            let decodedKey = try? TransactionLogKey(from: &keyReader, version: 0)
        else { return false }
        let id = decodedKey.transactionalId
        return withLock {
            guard let value else {
                if let old = transactions.removeValue(forKey: id) { transactionalIds[old.producerId] = nil }
                return true
            }
            var reader = ByteReader(value)
            guard let version = try? reader.readInt16(), TransactionLogValue.validVersions.contains(version),
                let stored = try? TransactionLogValue(from: &reader, version: version),
                let state = TransactionState(rawValue: stored.transactionStatus)
            else { return false }
            let previous = transactions[id]
            var metadata = TransactionMetadata(
                transactionalId: id, producerId: stored.producerId, producerEpoch: stored.producerEpoch,
                timeoutMilliseconds: stored.transactionTimeoutMs, state: state,
                partitions: Set(
                    (stored.transactionPartitions ?? []).flatMap { topic in
                        topic.partitionIds.map { TopicPartition(topic: topic.topic, partition: $0) }
                    }),
                startTimestamp: stored.transactionStartTimestampMs, lastUpdateTimestamp: stored.transactionLastUpdateTimestampMs)
            if let previous, previous.producerId == metadata.producerId, previous.producerEpoch < metadata.producerEpoch {
                metadata.lastProducerEpoch = previous.producerEpoch
            }
            if let previous { transactionalIds[previous.producerId] = nil }
            transactions[id] = metadata
            transactionalIds[metadata.producerId] = id
            return true
        }
    }

    /// Forgets the transactional ids kept in `statePartition` (another broker leads it now, or
    /// it is about to be replayed afresh).
    public func unload(statePartition partition: Int32) {
        withLock {
            for id in transactions.byId.keys where statePartition(for: id) == partition {
                if let removed = transactions.removeValue(forKey: id) { transactionalIds[removed.producerId] = nil }
            }
        }
    }

    /// After replay: transactions caught between PrepareCommit/PrepareAbort and their
    /// completion are completed now (their markers written again where missing).
    public func completeInterruptedTransactions() {
        let decided = withLock {
            let now = clock()
            return transactions.byId.values.compactMap { found -> Completion? in
                var metadata = found
                guard metadata.state == .prepareCommit || metadata.state == .prepareAbort, completing[metadata.transactionalId] == nil
                else { return nil }
                return prepare(&metadata, commit: metadata.state == .prepareCommit, now: now)
            }
        }
        for completion in decided { complete(completion) }
    }

    // MARK: Operators

    public func describe(_ transactionalId: String) -> TransactionMetadata? {
        withLock { transactions[transactionalId] }
    }

    /// Transactions begun and not yet completed (Ongoing, PrepareCommit, PrepareAbort).
    public func openTransactions() -> [TransactionMetadata] {
        list(states: [], producerIds: [], minimumDurationMilliseconds: -1).filter {
            [.ongoing, .prepareCommit, .prepareAbort].contains($0.state)
        }
    }

    /// ListTransactions: by state names, producer ids, and open for longer than
    /// `minimumDurationMilliseconds` (-1: any); empty filters match everything.
    public func list(states: [String], producerIds: [Int64], minimumDurationMilliseconds: Int64) -> [TransactionMetadata] {
        withLock {
            let now = clock()
            return transactions.byId.values.filter { metadata in
                (states.isEmpty || states.contains(metadata.state.name))
                    && (producerIds.isEmpty || producerIds.contains(metadata.producerId))
                    && (minimumDurationMilliseconds < 0
                        || (metadata.startTimestamp >= 0 && now - metadata.startTimestamp >= minimumDurationMilliseconds))
            }.sorted { $0.transactionalId < $1.transactionalId }
        }
    }
}

/// Transactional ids and their state, with the ids whose transaction is unfinished: the only
/// ones whose deadlines the 50 ms tick needs to look at.
private struct TransactionTable {
    private(set) var byId: [String: TransactionMetadata] = [:]
    private(set) var unfinished: Set<String> = []

    subscript(id: String) -> TransactionMetadata? {
        get { byId[id] }
        set {
            byId[id] = newValue
            switch newValue?.state {
            case .ongoing, .prepareCommit, .prepareAbort: unfinished.insert(id)
            default: unfinished.remove(id)
            }
        }
    }

    mutating func removeValue(forKey id: String) -> TransactionMetadata? {
        defer { self[id] = nil }
        return byId[id]
    }
}
