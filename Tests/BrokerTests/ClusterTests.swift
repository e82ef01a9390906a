// Cluster membership against the in-memory metadata store, with a clock the test moves:
// registration under leases, a node id taken, leases expiring and renewed, the controller's
// election and its move, the cluster id of the first broker; brokers in one process listing
// each other in Metadata; and the etcd client's HTTP reading sans IO.

import Glibc
import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import Logging
import Reactor
import Synchronization
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct ClusterTests {
    final class Clock: Sendable {
        let now = Mutex<Int64>(1_000_000)
        func advance(seconds: Int64) { now.withLock { $0 += seconds * 1_000 } }
        var read: @Sendable () -> Int64 { { self.now.withLock { $0 } } }
    }

    static func registration(_ nodeId: Int32, port: Int32 = 9092) -> BrokerRegistration {
        BrokerRegistration(nodeId: nodeId, endpoints: [.init(listener: "PLAINTEXT", host: "127.0.0.1", port: port)])
    }

    static let quiet = Logger(label: "tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// CreateTopics of a topic with one partition on `replicas` (the first leads): its error code.
    static func createPlaced(_ topic: String, on replicas: [Int32], through client: KafkaTestClient) throws -> Int16 {
        try client.send(
            CreateTopicsRequest(topics: [
                .init(name: topic, numPartitions: -1, replicationFactor: -1, assignments: [.init(partitionIndex: 0, brokerIds: replicas)])
            ]), version: 7
        ).topics[0].errorCode
    }

    /// An acks=all Produce of `values` to partition 0 of `topic`: the partition's answer.
    static func produceAll(_ values: [String], to topic: String, through client: KafkaTestClient) throws
        -> ProduceResponse.PartitionProduceResponse
    {
        try client.send(
            ProduceRequest(
                acks: -1, timeoutMs: 10_000,
                topicData: [.init(name: topic, partitionData: [.init(index: 0, records: .bytes(batch(values)))])]),
            version: 11
        ).responses[0].partitionResponses[0]
    }

    @Test func leasesKeepBrokersListedAndElectOneController() throws {
        let clock = Clock()
        let store = InMemoryMetadataStore(clock: clock.read)
        #expect(try store.clusterId(proposing: "first") == "first")
        #expect(try store.clusterId(proposing: "second") == "first")
        // Broker 2's port takes connections: its process lives.
        let listening = try System.tcpSocket(family: AF_INET)
        defer { System.close(listening) }
        try System.bind(listening, to: SocketAddress("127.0.0.1:0")!)
        try System.listen(listening, backlog: 8)
        let port = Int32(try #require(try System.localAddress(listening)).port)
        let one = try ClusterMembership(store: store, registration: Self.registration(1), leaseSeconds: 9, logger: Self.quiet)
        let two = try ClusterMembership(store: store, registration: Self.registration(2, port: port), leaseSeconds: 9, logger: Self.quiet)
        // Its node id is refused to another broker, after the registrant's lease and a second.
        let began = System.monotonicNanoseconds()
        #expect(throws: ClusterMembership.Failure.self) {
            try ClusterMembership(store: store, registration: Self.registration(2, port: 9999), leaseSeconds: 1, logger: Self.quiet)
        }
        #expect(System.monotonicNanoseconds() - began >= 2_000_000_000)
        one.refresh()
        two.refresh()
        #expect(one.brokers.map(\.nodeId) == [1, 2] && two.brokers.map(\.nodeId) == [1, 2])
        #expect(one.controllerId == 1 && two.controllerId == 1)
        // Broker 2 renews, broker 1 stops: past its lease it is gone, and 2 takes the controller.
        clock.advance(seconds: 5)
        two.refresh()
        clock.advance(seconds: 5)
        two.refresh()
        #expect(two.brokers.map(\.nodeId) == [2] && two.controllerId == 2)
        // Broker 1 comes back after its lease expired: fenced, it registers again.
        one.refresh()
        two.refresh()
        #expect(one.brokers.map(\.nodeId) == [1, 2] && one.controllerId == 2)
        // A clean stop frees the node id at once.
        two.leave()
        #expect(try store.brokers().map(\.nodeId) == [1])
        _ = try ClusterMembership(store: store, registration: Self.registration(2, port: 9094), leaseSeconds: 9, logger: Self.quiet)
    }

    /// A broker fences itself when its lease may have ended: a lease's length without a renewal
    /// (the store unreachable, or the process paused), or a new registration whose topics it
    /// has not read yet. A renewal the store takes in time ends it; a lapsed lease needs both.
    /// A broker killed and restarted before its lease ended finds its node id held by its
    /// previous process: that one's port refuses connections, so its registration is ended
    /// and the new one taken at once.
    @Test func aRestartedBrokerTakesOverTheRegistrationOfItsDeadProcess() throws {
        let store = InMemoryMetadataStore(clock: Clock().read)
        let closedSocket = try System.tcpSocket(family: AF_INET)
        try System.bind(closedSocket, to: SocketAddress("127.0.0.1:0")!)
        let closed = Int32(try #require(try System.localAddress(closedSocket)).port)
        System.close(closedSocket)
        _ = try ClusterMembership(store: store, registration: Self.registration(3, port: closed), leaseSeconds: 9, logger: Self.quiet)
        let began = System.monotonicNanoseconds()
        let restarted = try ClusterMembership(
            store: store, registration: Self.registration(3, port: closed + 1), leaseSeconds: 9, logger: Self.quiet)
        #expect(System.monotonicNanoseconds() - began < 2_000_000_000)
        #expect(restarted.brokers.map { $0.endpoints[0].port } == [closed + 1])
    }

    @Test func aBrokerWhoseLeaseMayHaveEndedIsFenced() throws {
        let clock = Clock()
        let store = InMemoryMetadataStore(clock: clock.read)
        let one = try ClusterMembership(store: store, registration: Self.registration(1), leaseSeconds: 1, logger: Self.quiet)
        #expect(!one.isFenced)
        // No renewal for longer than the lease (monotonic time here, whatever the store says).
        System.sleep(milliseconds: 1_100)
        #expect(one.isFenced)
        // The store still had the lease: renewed, nothing else to wait for.
        one.refresh()
        #expect(!one.isFenced)
        // The store let the lease go: registered again, fenced until the topics are read.
        clock.advance(seconds: 5)
        one.refresh()
        #expect(one.isFenced)
        try one.refreshTopics()
        #expect(!one.isFenced)
    }

    @Test func brokersOfOneClusterListEachOtherInMetadata() throws {
        let store = InMemoryMetadataStore(clock: { System.wallClockMilliseconds() })
        func start(_ nodeId: Int32) throws -> (Broker, Server) {
            var configuration = BrokerConfiguration()
            configuration.nodeId = nodeId
            configuration.dataDirectory = nil
            configuration.listeners = [.plaintext(SocketAddress("127.0.0.1:0")!)]
            configuration.httpListener = nil
            let broker = try Broker(configuration: configuration, metadataStore: store, logger: Self.quiet)
            return (broker, try broker.serve(handlesSignals: false))
        }
        let (first, firstServer) = try start(1)
        let (second, secondServer) = try start(2)
        defer {
            for (broker, server) in [(first, firstServer), (second, secondServer)] {
                server.shutdown()
                server.waitUntilStopped()
                try? broker.shutdown()
            }
        }
        #expect(first.clusterId == second.clusterId)
        second.membership?.refresh()
        let client = try KafkaTestClient(secondServer.boundAddresses[0])
        let metadata = try client.send(MetadataRequest(topics: []), version: 12)
        #expect(metadata.brokers.map(\.nodeId) == [1, 2])
        #expect(metadata.brokers.map(\.port) == [firstServer.boundAddresses[0].port, secondServer.boundAddresses[0].port].map(Int32.init))
        #expect(metadata.controllerId == 1)
        // A second broker with a node id already live cannot start.
        var duplicate = BrokerConfiguration()
        duplicate.nodeId = 2
        duplicate.dataDirectory = nil
        duplicate.listeners = [.plaintext(SocketAddress("127.0.0.1:0")!)]
        duplicate.httpListener = nil
        let refused = try Broker(configuration: duplicate, metadataStore: store, logger: Self.quiet)
        #expect(throws: BrokerError.self) { try refused.serve(handlesSignals: false) }
        try? refused.shutdown()
    }

    /// Brokers 1 and 2 of one in-memory cluster, serving on ephemeral ports; stopped after `body`.
    static func withCluster(
        _ configure: (inout BrokerConfiguration) -> Void = { _ in }, _ body: ([(broker: Broker, address: SocketAddress)]) throws -> Void
    ) throws {
        let store = InMemoryMetadataStore(clock: { System.wallClockMilliseconds() })
        var members: [(Broker, Server)] = []
        defer {
            for (broker, server) in members {
                server.shutdown()
                server.waitUntilStopped()
                try? broker.shutdown()
            }
        }
        for nodeId: Int32 in [1, 2] {
            var configuration = BrokerConfiguration()
            configuration.nodeId = nodeId
            configuration.dataDirectory = nil
            configuration.listeners = [.plaintext(SocketAddress("127.0.0.1:0")!)]
            configuration.httpListener = nil
            configuration.groups.offsetsTopicPartitions = 4
            configure(&configuration)
            let broker = try Broker(configuration: configuration, metadataStore: store, logger: Self.quiet)
            members.append((broker, try broker.serve(handlesSignals: false)))
        }
        for (broker, _) in members { broker.membership?.refresh() }
        try body(members.map { ($0.0, $0.1.boundAddresses[0]) })
    }

    @Test func topicsLiveInTheStoreAndEachPartitionIsServedByItsLeader() throws {
        try Self.withCluster { members in
            let (one, two) = (try KafkaTestClient(members[0].address), try KafkaTestClient(members[1].address))
            let created = try one.send(
                CreateTopicsRequest(topics: [
                    .init(name: "spread", numPartitions: 4, replicationFactor: -1),
                    .init(name: "replicated", numPartitions: 1, replicationFactor: 2),
                    .init(name: "too-many", numPartitions: 1, replicationFactor: 3),
                    .init(
                        name: "placed", numPartitions: -1, replicationFactor: -1, assignments: [.init(partitionIndex: 0, brokerIds: [2])]),
                ]), version: 7)
            #expect(created.topics.map(\.errorCode) == [0, 0, 38, 0])
            #expect(created.topics[2].errorMessage?.contains("only 2 broker(s)") == true)
            // Broker 2 reads the topics back: the same ids, leaders spread over both brokers.
            try members[1].broker.membership?.refreshTopics()
            #expect(members[1].broker.topics.topic(named: "spread")?.id == members[0].broker.topics.topic(named: "spread")?.id)
            let metadata = try two.send(MetadataRequest(topics: [.init(name: "spread"), .init(name: "placed")]), version: 12)
            let partitions = metadata.topics[0].partitions
            #expect(Set(partitions.map(\.leaderId)) == [1, 2])
            #expect(partitions.allSatisfy { $0.replicaNodes == [$0.leaderId] && $0.isrNodes == [$0.leaderId] && $0.errorCode == 0 })
            #expect(metadata.topics[1].partitions.map(\.leaderId) == [2])
            // Each broker has the logs of the partitions it leads, and only those.
            for (index, partition) in partitions.enumerated() {
                let name = TopicPartition(topic: "spread", partition: Int32(index))
                #expect((members[0].broker.logs.partition(name) != nil) == (partition.leaderId == 1))
                #expect((members[1].broker.logs.partition(name) != nil) == (partition.leaderId == 2))
            }
            // Produce and Fetch at the wrong broker: NOT_LEADER_OR_FOLLOWER naming the leader (KIP-951).
            let ledByOne = Int32(partitions.firstIndex { $0.leaderId == 1 }!)
            let ledByTwo = Int32(partitions.firstIndex { $0.leaderId == 2 }!)
            func produce(_ client: KafkaTestClient, _ partition: Int32) throws -> ProduceResponse {
                try client.send(
                    ProduceRequest(
                        acks: -1, timeoutMs: 5_000,
                        topicData: [.init(name: "spread", partitionData: [.init(index: partition, records: .bytes(batch(["v"])))])]),
                    version: 11)
            }
            let refused = try produce(two, ledByOne)
            let refusal = refused.responses[0].partitionResponses[0]
            #expect(refusal.errorCode == ErrorCode.notLeaderOrFollower.rawValue)
            #expect(refusal.currentLeader.leaderId == 1)
            #expect(refused.nodeEndpoints.map(\.nodeId) == [1])
            #expect(refused.nodeEndpoints.first?.port == Int32(members[0].address.port))
            #expect(try produce(two, ledByTwo).responses[0].partitionResponses[0].errorCode == 0)
            #expect(try produce(one, ledByOne).responses[0].partitionResponses[0].errorCode == 0)
            let fetched = try two.send(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20,
                    topics: [
                        .init(
                            topicId: metadata.topics[0].topicId,
                            partitions: [.init(partition: ledByOne, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
                    ]), version: 16)
            #expect(fetched.responses[0].partitions[0].errorCode == ErrorCode.notLeaderOrFollower.rawValue)
            #expect(fetched.responses[0].partitions[0].currentLeader.leaderId == 1)
            #expect(fetched.nodeEndpoints.map(\.nodeId) == [1])
            // Both brokers send a group to the same coordinator; the other one refuses it.
            let coordinators = try [one, two].map { client in
                try client.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["orders-group"]), version: 4).coordinators[0]
            }
            #expect(coordinators.map(\.errorCode) == [0, 0] && coordinators[0].nodeId == coordinators[1].nodeId, "\(coordinators)")
            let elsewhere = coordinators[0].nodeId == 1 ? two : one
            let join = try elsewhere.send(
                JoinGroupRequest(
                    groupId: "orders-group", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                    protocols: [.init(name: "range", metadata: [])]), version: 9)
            #expect(join.errorCode == ErrorCode.notCoordinator.rawValue)
            // Producer ids come from the cluster: no two brokers hand out the same one.
            let initialized = try [one, two].map {
                try $0.send(
                    InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1), version: 4
                )
            }
            #expect(initialized.map(\.errorCode) == [0, 0])
            let ids = initialized.map(\.producerId)
            #expect(ids[0] >= 0 && ids[1] >= 0 && ids[0] != ids[1])
            // A deletion at broker 2 reaches broker 1.
            let deleted = try two.send(DeleteTopicsRequest(topicNames: ["spread"]), version: 5)
            #expect(deleted.responses.map(\.errorCode) == [0])
            try members[0].broker.membership?.refreshTopics()
            #expect(members[0].broker.topics.topic(named: "spread") == nil)
            #expect(members[0].broker.logs.partition(TopicPartition(topic: "spread", partition: ledByOne)) == nil)
        }
    }

    @Test func aReplicatedPartitionIsCopiedByItsFollowerBeforeAcksAllIsAnswered() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            let created = try one.send(
                CreateTopicsRequest(topics: [.init(name: "copied", numPartitions: 1, replicationFactor: 2)]), version: 7)
            #expect(created.topics.map(\.errorCode) == [0])
            try members[1].broker.membership?.refreshTopics()
            let state = try #require(members[0].broker.membership?.partition("copied", 0))
            #expect(Set(state.replicas) == [1, 2] && Set(state.inSyncReplicas) == [1, 2])
            let (leader, follower) = state.leader == 1 ? (members[0], members[1]) : (members[1], members[0])
            let client = try KafkaTestClient(leader.address)
            #expect(try Self.produceAll(["a", "b", "c"], to: "copied", through: client).errorCode == 0)
            // Answered only once the follower had the batch: its log has it, with the leader's offsets.
            let name = TopicPartition(topic: "copied", partition: 0)
            let copy = try #require(follower.broker.logs.partition(name))
            #expect(copy.logEndOffset == 3)
            #expect(leader.broker.logs.partition(name)?.highWatermark == 3)
            // The follower learns the high watermark on its next fetch.
            let deadline = System.monotonicNanoseconds() + 5_000_000_000
            while copy.highWatermark < 3 && System.monotonicNanoseconds() < deadline { System.sleep(milliseconds: 20) }
            #expect(copy.highWatermark == 3)
            // Consumers at the follower are sent to the leader.
            let fetched = try KafkaTestClient(follower.address).send(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(topic: "copied", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])]),
                version: 12)
            #expect(fetched.responses[0].partitions[0].errorCode == ErrorCode.notLeaderOrFollower.rawValue)
        }
    }

    @Test func theControllerElectsAnInSyncFollowerWhenTheLeaderIsGone() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            #expect(try Self.createPlaced("elected", on: [1, 2], through: one) == 0)
            try members[1].broker.membership?.refreshTopics()
            func produce(_ client: KafkaTestClient) throws -> ProduceResponse.PartitionProduceResponse {
                try Self.produceAll(["a", "b", "c"], to: "elected", through: client)
            }
            #expect(try produce(one).errorCode == 0)
            // Broker 1's registration ends (as a crash past its session would): broker 2, the
            // controller now, elects itself from the ISR in a new leader epoch.
            members[0].broker.membership?.leave()
            let two = try #require(members[1].broker.membership)
            two.refresh()
            #expect(two.controllerId == 2)
            let deadline = System.monotonicNanoseconds() + 5_000_000_000
            while two.partition("elected", 0)?.leader != 2 && System.monotonicNanoseconds() < deadline { System.sleep(milliseconds: 20) }
            let state = try #require(two.partition("elected", 0))
            #expect(state.leader == 2 && state.leaderEpoch == 1 && state.inSyncReplicas == [2])
            // The new leader continues the log where the old one's acknowledged writes ended.
            let appended = try produce(try KafkaTestClient(members[1].address))
            #expect(appended.errorCode == 0 && appended.baseOffset == 3)
            let metadata = try KafkaTestClient(members[1].address).send(MetadataRequest(topics: [.init(name: "elected")]), version: 12)
            #expect(metadata.topics[0].partitions[0].leaderId == 2 && metadata.topics[0].partitions[0].offlineReplicas == [1])
        }
    }

    /// KIP-101 on disk. A follower restarts with a high watermark on record older than its log
    /// (a checkpoint taken before its last fetch): it keeps what it has, so that when it is
    /// elected no acknowledged record is gone (truncating to that high watermark, as before
    /// leader epochs, would lose offsets 5-9). The old leader then returns with a tail of its
    /// epoch that no one else has: it is cut where the epochs part, and the new leader's
    /// records take its place.
    @Test func aRestartedReplicaTruncatesByLeaderEpochNotByItsHighWatermark() throws {
        let store = InMemoryMetadataStore(clock: { System.wallClockMilliseconds() })
        let directories = [TemporaryDirectory(), TemporaryDirectory()]
        var running: [Int32: (broker: Broker, server: Server)] = [:]
        func start(_ nodeId: Int32) throws -> KafkaTestClient {
            var configuration = BrokerConfiguration()
            configuration.nodeId = nodeId
            configuration.dataDirectory = directories[Int(nodeId) - 1].path
            configuration.listeners = [.plaintext(SocketAddress("127.0.0.1:0")!)]
            configuration.httpListener = nil
            configuration.groups.offsetsTopicPartitions = 1
            let broker = try Broker(configuration: configuration, metadataStore: store, logger: Self.quiet)
            let server = try broker.serve(handlesSignals: false)
            running[nodeId] = (broker, server)
            return try KafkaTestClient(server.boundAddresses[0])
        }
        func stop(_ nodeId: Int32) throws {
            guard let (broker, server) = running.removeValue(forKey: nodeId) else { return }
            server.shutdown()
            server.waitUntilStopped()
            try broker.shutdown()
        }
        defer { for nodeId in Array(running.keys) { try? stop(nodeId) } }
        func waitFor(_ what: String, _ condition: () -> Bool) {
            let deadline = System.monotonicNanoseconds() + 10_000_000_000
            while !condition() && System.monotonicNanoseconds() < deadline { System.sleep(milliseconds: 20) }
            #expect(condition(), "\(what)")
        }
        let name = TopicPartition(topic: "epochs", partition: 0)
        func produce(_ client: KafkaTestClient, _ values: [String]) throws -> ProduceResponse.PartitionProduceResponse {
            try Self.produceAll(values, to: "epochs", through: client)
        }
        func values(_ nodeId: Int32) throws -> [String] {
            let log = try #require(running[nodeId]?.broker.logs.partition(name))
            let read = try log.read(from: 0, maxBytes: 1 << 20, minOneBatch: true, readCommitted: false, asReplica: true)
            return try read.regions.flatMap { region in
                try RecordBatch.batches(in: try region.file.read(count: region.length, at: region.position)).flatMap { batch in
                    try batch.records().map { String(decoding: $0.value ?? [], as: UTF8.self) }
                }
            }
        }

        let two = try start(2)
        _ = try start(1)
        for member in running.values { member.broker.membership?.refresh() }
        #expect(try Self.createPlaced("epochs", on: [2, 1], through: two) == 0)
        try running[1]?.broker.membership?.refreshTopics()
        for start in stride(from: 0, to: 10, by: 5) {
            #expect(try produce(two, (start..<start + 5).map { "old-\($0)" }).errorCode == 0)
        }
        waitFor("broker 1 has copied all ten") { running[1]?.broker.logs.partition(name)?.logEndOffset == 10 }

        // Broker 1 stops, and comes back still in the ISR (as after a restart within its
        // session) with a high watermark on record of 5.
        try stop(1)
        let stopped = try #require(try store.topics().first { $0.name == "epochs" }?.partitions[0])
        var restored = stopped
        restored.inSyncReplicas = [2, 1]
        restored.partitionEpoch += 1
        #expect(try store.update("epochs", partition: 0, from: stopped, to: restored))
        try System.replaceFile(directories[0].path + "/logs/epochs-0/replication-high-watermark", with: Array("5\n".utf8))
        // Broker 2, the leader, stops with no one to hand over to: broker 1 starts as its
        // follower, and the controller (broker 1, alone) elects it in epoch 1.
        try stop(2)
        let one = try start(1)
        waitFor("broker 1 elected") { running[1]?.broker.membership?.partition("epochs", 0)?.leader == 1 }
        #expect(running[1]?.broker.membership?.partition("epochs", 0)?.leaderEpoch == 1)
        waitFor("broker 1 leads with all ten") { running[1]?.broker.replicas?.isReplicated(name) == true }
        #expect(running[1]?.broker.logs.partition(name)?.logEndOffset == 10)
        #expect(
            running[1]?.broker.logs.partition(name)?.leaderEpochCache.entries == [
                .init(epoch: 0, startOffset: 0), .init(epoch: 1, startOffset: 10),
            ])

        // Broker 2's log gains a tail in epoch 0 that broker 1 never had (written as the old
        // leader just before it stopped); broker 1 writes its own offsets 10-12 in epoch 1.
        do {
            let (log, _) = try PartitionLog.open(
                name, store: DiskFileStore(root: directories[1].path + "/logs"), configuration: LogConfiguration(), recover: false,
                now: System.wallClockMilliseconds())
            _ = try log.append(
                batch(["stray-10", "stray-11", "stray-12", "stray-13"]), leaderEpoch: 0, now: System.wallClockMilliseconds())
            try log.flush()
        }
        let appended = try produce(one, ["new-10", "new-11", "new-12"])
        #expect(appended.errorCode == 0 && appended.baseOffset == 10)
        _ = try start(2)
        waitFor("broker 2 back in the ISR") { running[1]?.broker.membership?.partition("epochs", 0)?.inSyncReplicas.sorted() == [1, 2] }
        #expect(try values(2) == (0..<10).map { "old-\($0)" } + ["new-10", "new-11", "new-12"])
        #expect(try values(2) == values(1))
        #expect(running[2]?.broker.logs.partition(name)?.leaderEpochCache == running[1]?.broker.logs.partition(name)?.leaderEpochCache)
    }

    /// ElectLeaders in a cluster: a partition led by its second replica goes back to its
    /// preferred one in a new epoch, in force at the broker that answers; asked again, the
    /// election is not needed; a partition that does not exist is named so.
    @Test func electLeadersMovesAPartitionBackToItsPreferredReplica() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            #expect(try Self.createPlaced("preferred", on: [1, 2], through: one) == 0)
            let store = try #require(members[0].broker.membership?.store)
            let before = try #require(try store.topics().first { $0.name == "preferred" }?.partitions[0])
            var moved = before
            moved.leader = 2
            moved.leaderEpoch += 1
            moved.partitionEpoch += 1
            #expect(try store.update("preferred", partition: 0, from: before, to: moved))
            func elect() throws -> ElectLeadersResponse {
                try KafkaTestClient(members[1].address).send(
                    ElectLeadersRequest(
                        electionType: 0, topicPartitions: [.init(topic: "preferred", partitions: [0, 7])], timeoutMs: 10_000),
                    version: 2)
            }
            let answer = try elect()
            #expect(answer.replicaElectionResults.map(\.topic) == ["preferred"])
            #expect(answer.replicaElectionResults[0].partitionResult.map(\.errorCode) == [0, ErrorCode.unknownTopicOrPartition.rawValue])
            let state = try #require(members[1].broker.membership?.partition("preferred", 0))
            #expect(state.leader == 1 && state.leaderEpoch == 2)
            #expect(try elect().replicaElectionResults[0].partitionResult[0].errorCode == ErrorCode.electionNotNeeded.rawValue)
        }
    }

    /// The quick failure detector: a port with a listener is never reported, one where nothing
    /// listens is.
    @Test func aBrokerWhosePortRefusesConnectionsTwiceIsReportedGone() throws {
        let listening = try System.tcpSocket(family: AF_INET)
        defer { System.close(listening) }
        try System.bind(listening, to: SocketAddress("127.0.0.1:0")!)
        try System.listen(listening, backlog: 8)
        let open = try #require(try System.localAddress(listening))
        let closedSocket = try System.tcpSocket(family: AF_INET)
        try System.bind(closedSocket, to: SocketAddress("127.0.0.1:0")!)
        let closed = try #require(try System.localAddress(closedSocket))
        System.close(closedSocket)
        let brokers = [Self.registration(1, port: Int32(open.port)), Self.registration(2, port: Int32(closed.port))]
        #expect(DeadBrokerDetector.refusing(brokers, listener: "PLAINTEXT").map(\.nodeId) == [2])
        #expect(DeadBrokerDetector.refusing(brokers, listener: "SSL").isEmpty)  // no such endpoint: nothing known
    }

    /// AlterPartitionReassignments moves a partition: the target replica copies it as a
    /// follower, the reassignment is listed meanwhile, and once the new replica is in sync the
    /// controller completes it: the old replica leaves and its log goes, leadership moves with
    /// it, and what was written is all on the new leader.
    @Test func aReassignmentMovesAPartitionToAnotherBroker() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            #expect(try Self.createPlaced("moved", on: [1], through: one) == 0)
            try members[1].broker.membership?.refreshTopics()  // the topic is asked about there next
            #expect(try Self.produceAll(["a", "b", "c"], to: "moved", through: one).errorCode == 0)
            func reassign(_ replicas: [Int32]?, allowingChange: Bool = true) throws -> Int16 {
                try KafkaTestClient(members[1].address).send(
                    AlterPartitionReassignmentsRequest(
                        timeoutMs: 10_000, allowReplicationFactorChange: allowingChange,
                        topics: [.init(name: "moved", partitions: [.init(partitionIndex: 0, replicas: replicas)])]),
                    version: 1
                ).responses[0].partitions[0].errorCode
            }
            #expect(try reassign([3]) == ErrorCode.invalidReplicaAssignment.rawValue)  // no such broker
            #expect(try reassign([1, 2], allowingChange: false) == ErrorCode.invalidReplicationFactor.rawValue)
            #expect(try reassign(nil) == ErrorCode.noReassignmentInProgress.rawValue)
            #expect(try reassign([2]) == 0)
            let two = try #require(members[1].broker.membership)
            let deadline = System.monotonicNanoseconds() + 10_000_000_000
            while two.partition("moved", 0)?.replicas != [2] && System.monotonicNanoseconds() < deadline { System.sleep(milliseconds: 20) }
            let state = try #require(two.partition("moved", 0))
            #expect(state.replicas == [2] && state.leader == 2 && state.inSyncReplicas == [2] && !state.isReassigning)
            let listed = try KafkaTestClient(members[0].address).send(ListPartitionReassignmentsRequest(timeoutMs: 1_000), version: 0)
            #expect(listed.topics.isEmpty)
            let name = TopicPartition(topic: "moved", partition: 0)
            #expect(members[1].broker.logs.partition(name)?.logEndOffset == 3)
            while members[0].broker.logs.partition(name) != nil && System.monotonicNanoseconds() < deadline {
                System.sleep(milliseconds: 20)
            }
            #expect(members[0].broker.logs.partition(name) == nil)
        }
    }

    @Test func committedOffsetsAreReplicatedAndANewCoordinatorReplaysThem() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            _ = try one.send(CreateTopicsRequest(topics: [.init(name: "read", numPartitions: 1, replicationFactor: 2)]), version: 7)
            let found = try one.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["readers"]), version: 4).coordinators[0]
            #expect(found.errorCode == 0)
            for member in members { try member.broker.membership?.refreshTopics() }
            let coordinator = members.first { $0.broker.configuration.nodeId == found.nodeId }!
            let other = members.first { $0.broker.configuration.nodeId != found.nodeId }!
            let partition = TopicPartition(
                topic: "__consumer_offsets", partition: coordinator.broker.groups.offsetsPartition(for: "readers"))
            #expect(coordinator.broker.membership?.partition(partition.topic, partition.partition)?.replicas.count == 2)
            let commit = try KafkaTestClient(coordinator.address).send(
                OffsetCommitRequest(
                    groupId: "readers", generationIdOrMemberEpoch: -1,
                    topics: [.init(name: "read", partitions: [.init(partitionIndex: 0, committedOffset: 42, committedMetadata: nil)])]),
                version: 8)
            #expect(commit.topics[0].partitions[0].errorCode == 0)
            // The other broker's copy of the group's partition has the commit.
            let copy = try #require(other.broker.logs.partition(partition))
            let deadline = System.monotonicNanoseconds() + 5_000_000_000
            while copy.logEndOffset < 1 && System.monotonicNanoseconds() < deadline { System.sleep(milliseconds: 20) }
            #expect(copy.logEndOffset == 1)
            // The coordinator's registration ends: the other broker leads the partition, replays
            // it, and answers OffsetFetch with the commit.
            coordinator.broker.membership?.leave()
            let membership = try #require(other.broker.membership)
            membership.refresh()
            while membership.partition(partition.topic, partition.partition)?.leader != other.broker.configuration.nodeId
                && System.monotonicNanoseconds() < deadline + 5_000_000_000
            {
                System.sleep(milliseconds: 20)
            }
            let fetched = try KafkaTestClient(other.address).send(
                OffsetFetchRequest(groupId: "readers", topics: [.init(name: "read", partitionIndexes: [0])]), version: 7)
            #expect(fetched.errorCode == 0 && fetched.topics.first?.partitions.first?.committedOffset == 42)
        }
    }

    /// A transaction coordinated by one broker that wrote to a partition the other leads: EndTxn
    /// is answered only once its decision is on the state partition's other replica and the
    /// marker, sent as WriteTxnMarkers, on the data partition's follower.
    @Test func endTxnIsAnsweredOnceTheDecisionAndTheMarkersAreReplicated() throws {
        try Self.withCluster { members in
            let (one, two) = (try KafkaTestClient(members[0].address), try KafkaTestClient(members[1].address))
            #expect(try Self.createPlaced("payments", on: [2, 1], through: one) == 0)
            var transactionalId = ""
            for candidate in (0..<50).map({ "tx-\($0)" }) {
                let found = try one.send(FindCoordinatorRequest(keyType: 1, coordinatorKeys: [candidate]), version: 4).coordinators[0]
                if found.errorCode == 0 && found.nodeId == 1 {
                    transactionalId = candidate
                    break
                }
            }
            try #require(!transactionalId.isEmpty)
            for member in members { try member.broker.membership?.refreshTopics() }
            let producer = try one.send(InitProducerIdRequest(transactionalId: transactionalId, transactionTimeoutMs: 60_000), version: 4)
            #expect(producer.errorCode == 0)
            let add = try one.send(
                AddPartitionsToTxnRequest(
                    v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producer.producerId,
                    v3AndBelowProducerEpoch: producer.producerEpoch, v3AndBelowTopics: [.init(name: "payments", partitions: [0])]),
                version: 3)
            #expect(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode == 0)
            var builder = RecordBatchBuilder()
            builder.isTransactional = true
            builder.producerId = producer.producerId
            builder.producerEpoch = producer.producerEpoch
            builder.baseSequence = 0
            let records = try builder.build(
                ["a", "b"].enumerated().map { Record(offset: Int64($0), timestamp: 1_000, value: Array($1.utf8)) })
            let produced = try two.send(
                ProduceRequest(
                    transactionalId: transactionalId, acks: -1, timeoutMs: 5_000,
                    topicData: [.init(name: "payments", partitionData: [.init(index: 0, records: .bytes(records))])]), version: 9)
            #expect(produced.responses[0].partitionResponses[0].errorCode == 0)

            let ended = try one.send(
                EndTxnRequest(
                    transactionalId: transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch,
                    committed: true),
                version: 3)
            #expect(ended.errorCode == 0)
            // No waiting here: when EndTxn is answered, the follower of `payments` has the marker,
            // and the other replica of the state partition the decision.
            let payments = TopicPartition(topic: "payments", partition: 0)
            #expect(members[0].broker.logs.partition(payments)?.logEndOffset == 3)
            let state = members[0].broker.transactionStatePartition(of: transactionalId)
            #expect((members[1].broker.logs.partition(state)?.logEndOffset ?? 0) >= 3, "Empty, Ongoing and PrepareCommit")
            #expect(members[1].broker.logs.partition(payments)?.lastStableOffset == 3)
        }
    }

    /// A follower whose log ends below its leader's log start (its data lost, or away past the
    /// leader's retention) starts over at that start instead of being refused for ever.
    @Test func aFollowerBelowItsLeadersLogStartStartsOverThere() throws {
        try Self.withCluster { members in
            let one = try KafkaTestClient(members[0].address)
            #expect(try Self.createPlaced("kept", on: [1, 2], through: one) == 0)
            try members[1].broker.membership?.refreshTopics()
            #expect(try Self.produceAll((0..<10).map(String.init), to: "kept", through: one).errorCode == 0)
            let deleted = try one.send(
                DeleteRecordsRequest(topics: [.init(name: "kept", partitions: [.init(partitionIndex: 0, offset: 8)])], timeoutMs: 5_000),
                version: 2)
            #expect(deleted.topics[0].partitions[0].errorCode == 0)
            let name = TopicPartition(topic: "kept", partition: 0)
            let copy = try #require(members[1].broker.logs.partition(name))
            try copy.truncate(to: 0)
            // The leader's start lies inside its one batch: the copy starts at that batch.
            #expect(Self.eventually { copy.logEndOffset == 10 })
            #expect(copy.logStartOffset <= 8)
            #expect(try Self.produceAll(["10"], to: "kept", through: one).errorCode == 0)
            #expect(copy.logEndOffset == 11)
        }
    }

    /// Waits, at most 5 s, until `condition` holds: what another broker changed is read every
    /// ClusterMembership.fallbackReadMilliseconds.
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = System.monotonicNanoseconds() + 5_000_000_000
        while !condition() {
            if System.monotonicNanoseconds() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    @Test func aclsQuotasAndScramCredentialsAreTheClustersNotOneBrokers() throws {
        try Self.withCluster({
            $0.authorizerEnabled = true
            $0.superUsers = ["User:ANONYMOUS"]
        }) { members in
            let (one, two) = (try KafkaTestClient(members[0].address), try KafkaTestClient(members[1].address))
            func allow(_ principal: String, to topic: String, through client: KafkaTestClient) throws -> Int16 {
                try client.send(
                    CreateAclsRequest(creations: [
                        .init(
                            resourceType: ResourceType.topic.rawValue, resourceName: topic, resourcePatternType: 3, principal: principal,
                            host: "*", operation: AclOperation.read.rawValue, permissionType: AclPermission.allow.rawValue)
                    ]), version: 3
                ).results[0].errorCode
            }
            func reads(_ member: Int, _ principal: String, _ topic: String) -> Bool {
                members[member].broker.authorizer?.authorize(
                    principal: principal, host: "10.0.0.1", operation: .read, resourceType: .topic, name: topic) == true
            }
            // Made through two brokers at once, each from what it knew: neither undoes the other.
            #expect(try allow("User:alice", to: "orders", through: one) == 0)
            #expect(try allow("User:bob", to: "payments", through: two) == 0)
            for member in [0, 1] {
                #expect(Self.eventually { reads(member, "User:alice", "orders") && reads(member, "User:bob", "payments") })
            }
            #expect(!reads(1, "User:alice", "payments"))

            let quota = try two.send(
                AlterClientQuotasRequest(entries: [
                    .init(entity: [.init(entityType: "user", entityName: "alice")], ops: [.init(key: "producer_byte_rate", value: 1_024)])
                ]), version: 1)
            #expect(quota.entries.map(\.errorCode) == [0])
            #expect(
                Self.eventually {
                    members[0].broker.quotas.quota(user: "alice", clientId: "any", key: "producer_byte_rate")?.limit == 1_024
                })

            let credential = try one.send(
                AlterUserScramCredentialsRequest(upsertions: [
                    .init(
                        name: "carol", mechanism: 1, iterations: 4_096, salt: [1, 2, 3], saltedPassword: [UInt8](repeating: 7, count: 32))
                ]), version: 0)
            #expect(credential.results.map(\.errorCode) == [0])
            #expect(Self.eventually { members[1].broker.scramCredentials.credential(user: "carol", mechanism: .sha256) != nil })
        }
    }

    @Test func etcdAnswersAreReadWhateverTheirFraming() throws {
        var reader = HTTPResponseReader()
        #expect(try reader.append(Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}".utf8)) == nil)
        #expect(try reader.append(Array("{}".utf8)) == .init(status: 200, body: Array("{}{}".utf8)))
        var chunked = HTTPResponseReader()
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n"
        var result: HTTPResponseReader.Response?
        for byte in text.utf8 { result = try chunked.append([byte]) ?? result }
        #expect(result == .init(status: 200, body: Array(#"{"a":1}"#.utf8)))
        var large = HTTPResponseReader()
        #expect(throws: HTTPResponseReader.Failure.tooLarge) {
            try large.append(Array("HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n".utf8))
        }
        var garbage = HTTPResponseReader()
        #expect(throws: HTTPResponseReader.Failure.self) { try garbage.append(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
        #expect(EtcdClient.endpoints(of: "etcd://a:2379, b:2379") == ["a:2379", "b:2379"])
        #expect(EtcdClient.endpoints(of: "http://a:2379") == nil)
        #expect(EtcdClient.prefixEnd("/swiftlet/brokers/") == "/swiftlet/brokers0")
    }

    /// The watch's stream: each newline-delimited message as soon as it is whole, whatever the
    /// chunks it came in, byte by byte included.
    @Test func etcdWatchMessagesAreCutFromTheStream() throws {
        let created = #"{"result":{"header":{"revision":"7"},"created":true}}"#
        let event = #"{"result":{"header":{"revision":"8"},"events":[{"kv":{"key":"L3g="}}]}}"#
        let body = Array((created + "\n" + event + "\n").utf8)
        let split = body.count / 3
        let chunks = [Array(body.prefix(split)), Array(body.dropFirst(split))]
        let text =
            Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            + chunks.flatMap { Array(String($0.count, radix: 16).utf8) + [13, 10] + $0 + [13, 10] }
        var stream = HTTPMessageStream()
        var messages: [String] = []
        for byte in text { messages += try stream.append([byte]).map { String(decoding: $0, as: UTF8.self) } }
        #expect(messages == [created, event])
        var refused = HTTPMessageStream()
        #expect(throws: HTTPResponseReader.Failure.self) {
            try refused.append(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        }
        var huge = HTTPMessageStream()
        #expect(throws: HTTPResponseReader.Failure.tooLarge) {
            try huge.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n".utf8))
        }
        // A size that would overflow what is buffered, and a size line that never ends: refused,
        // not trapped on or buffered for ever.
        var overflowing = HTTPMessageStream()
        #expect(throws: HTTPResponseReader.Failure.tooLarge) {
            try overflowing.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n7fffffffffffffff\r\n".utf8))
        }
        var endless = HTTPMessageStream()
        #expect(throws: HTTPResponseReader.Failure.self) {
            try endless.append(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + [UInt8](repeating: 0x31, count: 300))
        }
    }
}
