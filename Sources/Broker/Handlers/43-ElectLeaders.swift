// ElectLeaders (key 43): on one broker every partition already has its preferred leader,
// so each named partition answers ELECTION_NOT_NEEDED, as Kafka's controller does. In a
// cluster the elections (preferred, or unclean for partitions without a live leader) are
// compare-and-swapped in the metadata store and in force here before the answer.

import KafkaProtocol
import KafkaWire

struct ElectLeadersHandler: ApiHandler {
    typealias Request = ElectLeadersRequest
    let advertised: ClosedRange<Int16> = 0...2

    /// Kafka's election types: preferred (0) and unclean (1); v0 asks for preferred only.
    private static let electionTypes: ClosedRange<Int8> = 0...1

    /// A cluster's elections wait for the metadata store.
    func runsOnAdminThread(_ request: ElectLeadersRequest, _ context: RequestContext<ElectLeadersRequest>) -> Bool {
        context.broker.membership != nil
    }

    func handle(_ request: ElectLeadersRequest, _ context: RequestContext<ElectLeadersRequest>) {
        let topics = context.broker.topics
        guard context.authorized(.alter, .cluster, clusterResourceName) else {
            return context.send(ElectLeadersResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, replicaElectionResults: []))
        }
        guard Self.electionTypes.contains(request.electionType) else {
            let message = "Unknown election type \(request.electionType)"
            context.send(
                ElectLeadersResponse(
                    errorCode: ErrorCode.invalidRequest.rawValue,
                    replicaElectionResults: (request.topicPartitions ?? []).map { topic in
                        .init(
                            topic: topic.topic,
                            partitionResult: topic.partitions.map {
                                .init(partitionId: $0, errorCode: ErrorCode.invalidRequest.rawValue, errorMessage: message)
                            })
                    }))
            return
        }
        if let membership = context.broker.membership, let replicas = context.broker.replicas {
            return context.send(Self.elect(request, membership: membership, replicas: replicas))
        }
        guard let requested = request.topicPartitions else {
            // Every partition: Kafka leaves out those whose election is not needed, which on
            // one broker is all of them, but still lists each topic.
            context.send(ElectLeadersResponse(replicaElectionResults: topics.all.map { .init(topic: $0.name) }))
            return
        }
        context.send(
            ElectLeadersResponse(
                replicaElectionResults: requested.map { topic in
                    let partitionCount = topics.topic(named: topic.topic)?.partitions
                    return .init(
                        topic: topic.topic,
                        partitionResult: topic.partitions.map { partition in
                            guard let partitionCount else {
                                return .init(
                                    partitionId: partition, errorCode: ErrorCode.unknownTopicOrPartition.rawValue,
                                    errorMessage: "No such topic as \(topic.topic)")
                            }
                            guard partition >= 0 && partition < partitionCount else {
                                return .init(
                                    partitionId: partition, errorCode: ErrorCode.unknownTopicOrPartition.rawValue,
                                    errorMessage: "No such partition as \(topic.topic)-\(partition)")
                            }
                            return .init(
                                partitionId: partition, errorCode: ErrorCode.electionNotNeeded.rawValue,
                                errorMessage: "Leader election not needed for topic partition.")
                        })
                }))
    }

    /// A cluster's ElectLeaders: each named partition (or, with none named, every partition
    /// where an election was possible or failed for a reason other than not being needed).
    private static func elect(
        _ request: ElectLeadersRequest, membership: ClusterMembership, replicas: ReplicaManager
    ) -> ElectLeadersResponse {
        let election: LeaderElection = request.electionType == 1 ? .offline(unclean: true) : .preferred
        let named = request.topicPartitions.map { topics in
            topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) } }
        }
        let outcomes = Dictionary(replicas.elect(election, named, in: membership), uniquingKeysWith: { first, _ in first })
        let elected = outcomes.compactMap { name, outcome in (try? outcome.get()).map { (name, $0.leaderEpoch) } }
        membership.awaitTopics { elected.allSatisfy { membership.partition($0.0.topic, $0.0.partition).map(\.leaderEpoch) ?? -1 >= $0.1 } }
        let answered =
            named
            ?? outcomes.keys.filter { outcomes[$0] != .failure(.notNeeded) }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        var results: [ElectLeadersResponse.ReplicaElectionResult] = []
        for name in answered {
            let result: ElectLeadersResponse.PartitionResult
            switch outcomes[name] {
            case .success?: result = .init(partitionId: name.partition, errorCode: 0)
            case .failure(let refusal)?:
                result = .init(partitionId: name.partition, errorCode: refusal.errorCode.rawValue, errorMessage: refusal.message)
            case nil:
                result = .init(
                    partitionId: name.partition, errorCode: ErrorCode.unknownTopicOrPartition.rawValue,
                    errorMessage: "No such partition as \(name.topic)-\(name.partition)")
            }
            if results.last?.topic == name.topic {
                results[results.count - 1].partitionResult.append(result)
            } else {
                results.append(.init(topic: name.topic, partitionResult: [result]))
            }
        }
        return ElectLeadersResponse(replicaElectionResults: results)
    }
}
