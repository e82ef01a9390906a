// The cluster-operation admin APIs a single broker answers the way a one-node Kafka does:
// ACLs without an authorizer, leader elections with nothing to elect, reassignments that
// can only name this broker.

import KafkaProtocol
import TestSupport
import Testing

@testable import Broker

@Suite struct ClusterAdminTests {
    @Test(arguments: [Int16(1), 3])
    func aclRequestsAnswerSecurityDisabled(version: Int16) throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            let described = try client.send(DescribeAclsRequest(resourceTypeFilter: 1, operation: 1, permissionType: 1), version: version)
            #expect(described.errorCode == ErrorCode.securityDisabled.rawValue)
            #expect(described.errorMessage == "No Authorizer is configured on the broker")
            #expect(described.resources.isEmpty)

            let creation = CreateAclsRequest.AclCreation(
                resourceType: 2, resourceName: "orders", resourcePatternType: 3,
                principal: "User:alice", host: "*", operation: 3, permissionType: 3)
            let created = try client.send(CreateAclsRequest(creations: [creation, creation]), version: version)
            #expect(created.results.map(\.errorCode) == [ErrorCode.securityDisabled.rawValue, ErrorCode.securityDisabled.rawValue])
            #expect(created.results.allSatisfy { $0.errorMessage == "No Authorizer is configured." })

            let filter = DeleteAclsRequest.DeleteAclsFilter(resourceTypeFilter: 1, patternTypeFilter: 1, operation: 1, permissionType: 1)
            let deleted = try client.send(DeleteAclsRequest(filters: [filter]), version: version)
            #expect(deleted.filterResults.count == 1)
            #expect(deleted.filterResults[0].errorCode == ErrorCode.securityDisabled.rawValue)
            #expect(deleted.filterResults[0].matchingAcls.isEmpty)
        }
    }

    @Test func electLeadersFindsNothingToElect() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "elect", numPartitions: 2, replicationFactor: 1)]), version: 5)
            let named = try client.send(
                ElectLeadersRequest(
                    electionType: 0,
                    topicPartitions: [
                        .init(topic: "elect", partitions: [0, 1, 7]), .init(topic: "missing", partitions: [0]),
                    ]), version: 2)
            #expect(named.errorCode == 0)
            let results = Dictionary(uniqueKeysWithValues: named.replicaElectionResults.map { ($0.topic, $0.partitionResult) })
            #expect(
                results["elect"]?.map(\.errorCode) == [
                    ErrorCode.electionNotNeeded.rawValue, ErrorCode.electionNotNeeded.rawValue,
                    ErrorCode.unknownTopicOrPartition.rawValue,
                ])
            #expect(results["elect"]?[2].errorMessage == "No such partition as elect-7")
            #expect(results["missing"]?.first?.errorMessage == "No such topic as missing")

            // All partitions (null): every topic listed, with no partition needing an election.
            let all = try client.send(ElectLeadersRequest(electionType: 1, topicPartitions: nil), version: 1)
            #expect(all.replicaElectionResults.map(\.topic) == ["elect"])
            #expect(all.replicaElectionResults[0].partitionResult.isEmpty)

            let unknownType = try client.send(
                ElectLeadersRequest(electionType: 5, topicPartitions: [.init(topic: "elect", partitions: [0])]), version: 2)
            #expect(unknownType.errorCode == ErrorCode.invalidRequest.rawValue)
            #expect(unknownType.replicaElectionResults[0].partitionResult[0].errorCode == ErrorCode.invalidRequest.rawValue)
        }
    }

    @Test func reassignmentsCanOnlyNameThisBroker() throws {
        try withBroker { broker, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "moved", numPartitions: 1, replicationFactor: 1)]), version: 5)
            let node = broker.configuration.nodeId
            let response = try client.send(
                AlterPartitionReassignmentsRequest(topics: [
                    .init(
                        name: "moved",
                        partitions: [
                            .init(partitionIndex: 0, replicas: [node]),
                            .init(partitionIndex: 0, replicas: [node, node + 1]),
                            .init(partitionIndex: 0, replicas: [node, node]),
                            .init(partitionIndex: 0, replicas: []),
                            .init(partitionIndex: 0, replicas: nil),
                            .init(partitionIndex: 3, replicas: [node]),
                        ]),
                    .init(name: "absent", partitions: [.init(partitionIndex: 0, replicas: [node])]),
                ]), version: 0)
            #expect(response.errorCode == 0)
            let moved = response.responses[0].partitions
            #expect(
                moved.map(\.errorCode) == [
                    0, ErrorCode.invalidReplicaAssignment.rawValue, ErrorCode.invalidReplicaAssignment.rawValue,
                    ErrorCode.invalidReplicaAssignment.rawValue, ErrorCode.noReassignmentInProgress.rawValue,
                    ErrorCode.unknownTopicOrPartition.rawValue,
                ])
            #expect(
                moved[1].errorMessage == "The manual partition assignment includes broker \(node + 1), but no such broker is registered.")
            #expect(moved[2].errorMessage == "The manual partition assignment includes the broker \(node) more than once.")
            #expect(response.responses[1].partitions[0].errorCode == ErrorCode.unknownTopicOrPartition.rawValue)

            let listed = try client.send(ListPartitionReassignmentsRequest(topics: nil), version: 0)
            #expect(listed.errorCode == 0 && listed.topics.isEmpty)
            let named = try client.send(
                ListPartitionReassignmentsRequest(topics: [.init(name: "moved", partitionIndexes: [0])]), version: 0)
            #expect(named.topics.isEmpty)
        }
    }
}

extension ClusterAdminTests {
    /// AlterUserScramCredentials with Kafka's checks, DescribeUserScramCredentials of what it
    /// recorded, and both across a restart.
    @Test func scramCredentialsAreRecordedAndDescribed() throws {
        let directory = TemporaryDirectory()
        let configure: (inout BrokerConfiguration) -> Void = { $0.dataDirectory = directory.path }
        try withBroker(configure) { _, address in
            let client = try KafkaTestClient(address)
            #expect(try client.send(DescribeUserScramCredentialsRequest(users: nil), version: 0).results.isEmpty)
            func upsert(_ user: String, _ mechanism: Int8 = 1, _ iterations: Int32 = 8_192)
                -> AlterUserScramCredentialsRequest.ScramCredentialUpsertion
            {
                .init(
                    name: user, mechanism: mechanism, iterations: iterations, salt: [1, 2, 3],
                    saltedPassword: [UInt8](repeating: 7, count: 32))
            }
            let altered = try client.send(
                AlterUserScramCredentialsRequest(
                    deletions: [.init(name: "frank", mechanism: 1), .init(name: "gina", mechanism: 1)],
                    upsertions: [
                        upsert("alice"), upsert("bob", 2, 4_096), upsert(""), upsert("carol", 3), upsert("dave", 1, 100),
                        upsert("erin", 1, 20_000), upsert("gina"), upsert("hal"), upsert("hal", 2),
                    ]), version: 0)
            let codes = Dictionary(uniqueKeysWithValues: altered.results.map { ($0.user, $0.errorCode) })
            #expect(
                codes == [
                    "alice": 0, "bob": 0, "": ErrorCode.unacceptableCredential.rawValue,
                    "carol": ErrorCode.unsupportedSaslMechanism.rawValue,
                    "dave": ErrorCode.unacceptableCredential.rawValue, "erin": ErrorCode.unacceptableCredential.rawValue,
                    "frank": ErrorCode.resourceNotFound.rawValue, "gina": ErrorCode.resourceNotFound.rawValue,
                    "hal": ErrorCode.duplicateResource.rawValue,
                ])
            #expect(altered.results.first { $0.user == "dave" }?.errorMessage == "Too few iterations")
            let all = try client.send(DescribeUserScramCredentialsRequest(users: []), version: 0)
            #expect(all.results.map(\.user) == ["alice", "bob"])
            #expect(all.results.map { $0.credentialInfos.map { [Int32($0.mechanism), $0.iterations] } } == [[[1, 8_192]], [[2, 4_096]]])
            let named = try client.send(
                DescribeUserScramCredentialsRequest(users: [.init(name: "alice"), .init(name: "zed"), .init(name: "alice")]), version: 0)
            #expect(named.results.map(\.user) == ["alice", "zed"])
            #expect(named.results.map(\.errorCode) == [ErrorCode.duplicateResource.rawValue, ErrorCode.resourceNotFound.rawValue])
            #expect(named.results[1].errorMessage == "Attempt to describe a user credential that does not exist: zed")
            let deleted = try client.send(AlterUserScramCredentialsRequest(deletions: [.init(name: "alice", mechanism: 1)]), version: 0)
            #expect(deleted.results.map(\.errorCode) == [0])
        }
        try withBroker(configure) { _, address in
            let client = try KafkaTestClient(address)
            let all = try client.send(DescribeUserScramCredentialsRequest(users: nil), version: 0)
            #expect(all.results.map(\.user) == ["bob"], "kept across a restart, the deletion included")
        }
    }

    /// A single node is the metadata quorum's leader and only voter; any other partition is
    /// UNKNOWN_TOPIC_OR_PARTITION on each partition named, as Kafka's raft client answers.
    @Test(arguments: [Int16(0), 1, 2])
    func theQuorumIsThisNodeAlone(version: Int16) throws {
        try withBroker({ $0.nodeId = 7 }) { broker, address in
            let client = try KafkaTestClient(address)
            let described = try client.send(
                DescribeQuorumRequest(topics: [.init(topicName: "__cluster_metadata", partitions: [.init(partitionIndex: 0)])]),
                version: version)
            #expect(described.errorCode == 0)
            let partition = try #require(described.topics.first?.partitions.first)
            #expect(partition.errorCode == 0 && partition.leaderId == 7 && partition.leaderEpoch >= 1)
            #expect(partition.currentVoters.map(\.replicaId) == [7] && partition.observers.isEmpty)
            if version >= 1 {  // the leader's own timestamps are now
                let voter = partition.currentVoters[0]
                #expect(voter.lastFetchTimestamp > 0 && voter.lastCaughtUpTimestamp == voter.lastFetchTimestamp)
            }
            if version >= 2 {
                let (host, port) = broker.advertised
                #expect(described.nodes.map(\.nodeId) == [7])
                #expect(described.nodes.first?.listeners.map { "\($0.host):\($0.port)" } == ["\(host):\(port)"])
            }
            let other = try client.send(
                DescribeQuorumRequest(topics: [
                    .init(topicName: "orders", partitions: [.init(partitionIndex: 0), .init(partitionIndex: 1)])
                ]),
                version: version)
            #expect(other.topics.map(\.topicName) == ["orders"])
            #expect(
                other.topics[0].partitions.map(\.errorCode) == [
                    ErrorCode.unknownTopicOrPartition.rawValue, ErrorCode.unknownTopicOrPartition.rawValue,
                ])
        }
    }

    /// One log dir: a hosted partition asked into it is already there (success), another
    /// partition is REPLICA_NOT_AVAILABLE and another directory LOG_DIR_NOT_FOUND.
    @Test func replicasCanOnlyStayInTheOneLogDir() throws {
        let directory = TemporaryDirectory()
        try withBroker({ $0.dataDirectory = directory.path + "/./data" }) { broker, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(CreateTopicsRequest(topics: [.init(name: "moved", numPartitions: 1, replicationFactor: 1)]), version: 5)
            let logDirectory = try #require(broker.logDirectory)
            #expect(!logDirectory.contains("/./") && logDirectory.hasPrefix("/"))
            let described = try client.send(DescribeLogDirsRequest(topics: nil), version: 4)
            #expect(described.results.map(\.logDir) == [logDirectory])
            // As Kafka: a partition named twice goes where it was named last, one result per topic.
            let altered = try client.send(
                AlterReplicaLogDirsRequest(dirs: [
                    .init(path: logDirectory, topics: [.init(name: "moved", partitions: [0, 5]), .init(name: "other", partitions: [0])]),
                    .init(path: "/elsewhere", topics: [.init(name: "moved", partitions: [0])]),
                ]), version: 2)
            #expect(altered.results.map(\.topicName) == ["moved", "other"])
            #expect(altered.results.map { $0.partitions.map(\.partitionIndex) } == [[0, 5], [0]])
            #expect(
                altered.results.map { $0.partitions.map(\.errorCode) } == [
                    [ErrorCode.logDirNotFound.rawValue, ErrorCode.replicaNotAvailable.rawValue], [ErrorCode.replicaNotAvailable.rawValue],
                ])
            let stays = try client.send(
                AlterReplicaLogDirsRequest(dirs: [.init(path: logDirectory, topics: [.init(name: "moved", partitions: [0])])]),
                version: 1)
            #expect(stays.results.map { $0.partitions.map(\.errorCode) } == [[0]])
            // Only the path DescribeLogDirs gives: another spelling of it is another directory.
            let spelled = try client.send(
                AlterReplicaLogDirsRequest(dirs: [.init(path: logDirectory + "/.", topics: [.init(name: "moved", partitions: [0])])]),
                version: 2)
            #expect(spelled.results.map { $0.partitions.map(\.errorCode) } == [[ErrorCode.logDirNotFound.rawValue]])
        }
    }
}
