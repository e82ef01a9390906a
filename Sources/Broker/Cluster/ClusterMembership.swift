// This broker's membership of a cluster (metadata.store): registered under a lease at
// start, renewed a third of the lease apart, the live brokers and the controller read back
// on each renewal for Metadata and DescribeCluster. A lease that expired (etcd unreachable
// longer than it, or the process paused) is a fenced broker: it registers again as soon as
// it can, as a Kafka broker whose session expired does. The topics are read back more
// often, and each new read is handed to the broker to sync its registry and logs from.

import Logging
import Synchronization
import SystemCalls

final class ClusterMembership: Sendable {
    let store: any ClusterMetadataStore
    let registration: BrokerRegistration
    /// broker.session.timeout.ms, in whole seconds (etcd's lease unit), at least 1.
    let leaseSeconds: Int
    private let logger: Logger

    private struct View {
        var lease: Int64
        var brokers: [BrokerRegistration]
        var controllerId: Int32
    }

    private let view: Mutex<View>
    /// The store failed the last renewal: logged once per outage, not at every renewal.
    private let unreachable = Atomic(false)
    /// When the lease may have ended unbeknown to this broker (monotonic nanoseconds): the
    /// start of the last renewal the store took, plus the lease. etcd counts from when the
    /// renewal reached it, later, so this errs on the safe side.
    private let leaseDeadline = Atomic<UInt64>(0)
    /// This broker's registrations so far (a fenced broker registers again), and the one the
    /// last completed read of the topics began under.
    private let registrations = Atomic<Int>(0)
    private let syncedRegistration = Atomic<Int>(0)
    /// Logged once per fencing.
    private let fencingLogged = Atomic(false)
    /// The lease's renewals on one thread, the topics' reads (and the broker's syncs, which
    /// may replay a coordinator's partition) on another, so that no sync delays a renewal.
    private let tickers = Mutex<[WorkQueue]>([])
    /// The topics last read, by name.
    private let topicsView = Mutex<[String: ClusterTopic]>([:])
    /// Held from a read of the topics until the broker has synced it, so that reads are
    /// applied in the order they were made.
    private let topicSync = Mutex<Void>(())
    private let topicsChanged: @Sendable ([ClusterTopic]) -> Void
    private let documentsRead: @Sendable ([String: [UInt8]]) -> Void
    /// Set once the broker begins to stop.
    private let leaving = Atomic(false)
    /// Reads of the topics completed (synced or unchanged): what `awaitTopics` waits on.
    private let completedReads = Atomic<Int>(0)
    /// How often the controller's and leaders' periodic checks run (elections, reassignments).
    static let topicPollMilliseconds = 250
    /// How often the topics and documents are read whatever the watch said: a change it missed
    /// (while it reconnects to another etcd member) shows within this.
    static let fallbackReadMilliseconds = 1_000
    /// The watch's thread, from `start` to `leave`, and whether a read it asked for is queued.
    private let watcher = Mutex<OSThread?>(nil)
    private let readQueued = Atomic(false)

    enum Failure: Error, CustomStringConvertible {
        case nodeIdTaken(Int32, BrokerRegistration?)

        var description: String {
            switch self {
            case .nodeIdTaken(let nodeId, let holder):
                let by = holder?.endpoints.first.map { " by \($0.host):\($0.port)" } ?? ""
                return "node.id \(nodeId) is already registered in the cluster\(by): each broker needs its own node.id"
            }
        }
    }

    /// Registers `registration`; refused when another live broker has its node id. Each read
    /// of the topics that differs from the last goes to `topicsChanged`, the first before
    /// this returns; each read of the cluster-wide documents, as often, to `documentsRead`.
    init(
        store: any ClusterMetadataStore, registration: BrokerRegistration, leaseSeconds: Int, logger: Logger,
        topicsChanged: @escaping @Sendable ([ClusterTopic]) -> Void = { _ in },
        documentsRead: @escaping @Sendable ([String: [UInt8]]) -> Void = { _ in }
    ) throws {
        self.store = store
        self.registration = registration
        self.leaseSeconds = max(1, leaseSeconds)
        self.logger = logger
        self.topicsChanged = topicsChanged
        self.documentsRead = documentsRead
        let lease = try Self.register(registration, leaseSeconds: self.leaseSeconds, in: store, logger: logger)
        view = Mutex(View(lease: lease.id, brokers: [registration], controllerId: -1))
        registrations.store(1, ordering: .releasing)
        leaseDeadline.store(lease.began + UInt64(self.leaseSeconds) * 1_000_000_000, ordering: .releasing)
        refresh()
        try refreshTopics()
    }

    /// Registers `registration`. The node id may still be held by this broker's previous
    /// process (killed, and restarted before its lease ended): a holder whose port refuses
    /// connections has no process, and its lease is revoked at once, as the controller's
    /// detector would; one that may be alive is waited for, a lease and a second at most, as
    /// Kafka's broker retries its registration. Then the node id is taken: refused.
    private static func register(
        _ registration: BrokerRegistration, leaseSeconds: Int, in store: any ClusterMetadataStore, logger: Logger
    ) throws -> (id: Int64, began: UInt64) {
        let deadline = System.monotonicNanoseconds() + UInt64(leaseSeconds + 1) * 1_000_000_000
        while true {
            let began = System.monotonicNanoseconds()
            switch try store.register(registration, leaseSeconds: leaseSeconds) {
            case .registered(let lease):
                return (lease, began)
            case .nodeIdTaken(let holder):
                guard System.monotonicNanoseconds() < deadline else { throw Failure.nodeIdTaken(registration.nodeId, holder) }
                // A process that is gone refuses connections on every port it listened on.
                if let stale = try store.brokers().first(where: { $0.nodeId == registration.nodeId }), stale.lease != 0,
                    !stale.endpoints.isEmpty, stale.endpoints.allSatisfy({ DeadBrokerDetector.refuses(host: $0.host, port: $0.port) })
                {
                    logger.info(
                        "cluster: node \(registration.nodeId)'s previous registration refuses connections (its process is gone): ended")
                    try store.deregister(lease: stale.lease)
                } else {
                    System.sleep(milliseconds: 250)
                }
            }
        }
    }

    /// Renews and reads the cluster back every third of the lease, and the topics more
    /// often, on its own thread.
    func start() throws {
        let renewals = try WorkQueue(name: "swiftlet-cluster")
        renewals.every(milliseconds: leaseSeconds * 1_000 / 3) { [self] in refresh() }
        let topics = try WorkQueue(name: "swiftlet-topics")
        topics.every(milliseconds: Self.fallbackReadMilliseconds) { [self] in readEverything() }
        tickers.withLock { $0 = [renewals, topics] }
        let thread = try OSThread(name: "swiftlet-watch") { [self] in watchChanges() }
        watcher.withLock { $0 = thread }
    }

    /// The topics, then the cluster-wide documents.
    /// The live brokers, the topics, then the cluster-wide documents (the controller and this
    /// broker's lease are the renewals' own).
    private func readEverything() {
        readQueued.store(false, ordering: .releasing)
        if let brokers = try? store.brokers() {
            let previous = view.withLock { view in
                defer { view.brokers = brokers }
                return view.brokers
            }
            log(brokers, previously: previous)
        }
        try? refreshTopics()
        if let documents = try? store.documents() { documentsRead(documents) }
    }

    /// etcd's watch on the cluster's keys: each change has them read again at once, on the
    /// topics' thread (one read queued at a time, however many changes come meanwhile).
    private func watchChanges() {
        var failing = false
        while !leaving.load(ordering: .acquiring) {
            do {
                try store.watch(until: { leaving.load(ordering: .acquiring) }) {
                    failing = false
                    readSoon()
                }
            } catch {
                if !failing { logger.info("cluster: watching the metadata store: \(error); reading it every second meanwhile") }
                failing = true
                System.sleep(milliseconds: 500)
            }
        }
    }

    private func readSoon() {
        guard !readQueued.exchange(true, ordering: .acquiringAndReleasing),
            let queue = tickers.withLock({ $0.last })
        else { return }
        queue.execute { [self] in readEverything() }
    }

    /// Reads the topics and, when they changed, has the broker sync them before they are
    /// what `partition` answers from (so a leader found there has its log).
    func refreshTopics() throws {
        try topicSync.withLock { _ in
            let registration = registrations.load(ordering: .acquiring)
            let read = try store.topics()
            defer { syncedRegistration.store(registration, ordering: .releasing) }
            defer { completedReads.add(1, ordering: .releasing) }
            let changed = topicsView.withLock { view in read.count != view.count || read.contains { view[$0.name] != $0 } }
            guard changed else { return }
            topicsChanged(read)
            topicsView.withLock { $0 = Dictionary(uniqueKeysWithValues: read.map { ($0.name, $0) }) }
        }
    }

    /// Has the topics read again now, on their own thread, without waiting (a change was
    /// just made in the store).
    func refreshTopicsSoon() {
        guard let queue = tickers.withLock({ $0.last }) else { return }
        queue.execute { [self] in try? refreshTopics() }
    }

    /// After a change this broker made: has the topics read again and waits, at most
    /// `milliseconds`, until a read that began after now is synced and `condition` holds, so
    /// that the change is in force here before the client is answered. Never on the topics'
    /// own thread (its syncs), which would wait for itself.
    @discardableResult
    func awaitTopics(within milliseconds: Int = 5_000, until condition: () -> Bool = { true }) -> Bool {
        let start = completedReads.load(ordering: .acquiring)
        let deadline = System.monotonicNanoseconds() + UInt64(milliseconds) * 1_000_000
        refreshTopicsSoon()
        while System.monotonicNanoseconds() < deadline {
            // Two reads: the one under way when asked may have begun before the change.
            if completedReads.load(ordering: .acquiring) >= start + 2 && condition() { return true }
            System.sleep(milliseconds: 2)
        }
        return false
    }

    /// A topic as the cluster last read it.
    func topic(named name: String) -> ClusterTopic? { topicsView.withLock { $0[name] } }

    /// A partition's replicas, leader and in-sync replicas as the cluster last read them.
    func partition(_ name: String, _ index: Int32) -> PartitionState? {
        topicsView.withLock { view in
            guard let topic = view[name], index >= 0, Int(index) < topic.partitions.count else { return nil }
            return topic.partitions[Int(index)]
        }
    }

    /// The brokers Metadata lists (this one at least) and the controller's node id.
    var brokers: [BrokerRegistration] { view.withLock { $0.brokers } }
    var controllerId: Int32 { view.withLock { $0.controllerId } }

    /// Whether this broker must not act as a leader or the controller: its lease may have
    /// ended (the store unreachable, or the process paused, past it), so that another broker
    /// may lead what it led; or it registered again and has not read the topics since, so
    /// that what it believes it leads is from before. Kafka's fenced broker.
    var isFenced: Bool {
        if System.monotonicNanoseconds() > leaseDeadline.load(ordering: .acquiring)
            || syncedRegistration.load(ordering: .acquiring) < registrations.load(ordering: .acquiring)
        {
            if !fencingLogged.exchange(true, ordering: .relaxed) {
                logger.warning("cluster: this broker's lease may have ended: fenced (leading nothing) until it registers again")
            }
            return true
        }
        return false
    }

    /// One renewal: the lease kept (or taken again), then the brokers and controller read.
    func refresh() {
        let lease = view.withLock { $0.lease }
        let began = System.monotonicNanoseconds()
        do {
            var current = lease
            if try !store.renew(lease: lease) {
                // A stopping broker's closed port gets its lease revoked by the controller: it
                // is leaving anyway.
                guard !leaving.load(ordering: .acquiring) else { return }
                logger.error("cluster: this broker's lease expired (fenced); registering again")
                switch try store.register(registration, leaseSeconds: leaseSeconds) {
                case .registered(let renewed):
                    current = renewed
                    registrations.add(1, ordering: .releasing)
                    refreshTopicsSoon()
                case .nodeIdTaken(let holder):
                    logger.error("cluster: \(Failure.nodeIdTaken(registration.nodeId, holder))")
                    return
                }
            }
            leaseDeadline.store(began + UInt64(leaseSeconds) * 1_000_000_000, ordering: .releasing)
            if fencingLogged.exchange(false, ordering: .relaxed) {
                logger.info("cluster: lease renewed; leading again once the topics are read under it")
            }
            let brokers = try store.brokers()
            let controller = try store.controller(claimingFor: registration.nodeId, lease: current)
            let previous = view.withLock { view in
                defer { view = View(lease: current, brokers: brokers, controllerId: controller) }
                return view
            }
            log(brokers, previously: previous.brokers)
            if previous.controllerId != controller { logger.info("cluster: controller is node \(controller)") }
            if unreachable.exchange(false, ordering: .relaxed) { logger.info("cluster: metadata store reachable again") }
        } catch {
            // Metadata keeps the brokers last read meanwhile.
            if !unreachable.exchange(true, ordering: .relaxed) { logger.warning("cluster: metadata store: \(error)") }
        }
    }

    /// The broker has begun to stop: a lost lease is not taken again.
    func beginLeaving() { leaving.store(true, ordering: .releasing) }

    private func log(_ brokers: [BrokerRegistration], previously previous: [BrokerRegistration]) {
        guard previous.map(\.nodeId) != brokers.map(\.nodeId) else { return }
        logger.info("cluster: live brokers \(brokers.map { String($0.nodeId) }.joined(separator: ", "))")
    }

    /// A clean stop: the registration and the controller role go at once, not a lease later.
    func leave() {
        beginLeaving()
        watcher.withLock { $0.take() }?.join()
        for queue in tickers.withLock({ queues in
            defer { queues = [] }
            return queues
        }) {
            queue.stop()
        }
        try? store.deregister(lease: view.withLock { $0.lease })
    }
}
