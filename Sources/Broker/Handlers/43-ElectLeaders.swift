// ElectLeaders (key 43): on one broker every partition already has its preferred leader,
// so each named partition answers ELECTION_NOT_NEEDED, as Kafka's controller does.

import KafkaProtocol

struct ElectLeadersHandler: ApiHandler {
    typealias Request = ElectLeadersRequest
    let advertised: ClosedRange<Int16> = 0...2

    /// Kafka's election types: preferred (0) and unclean (1); v0 asks for preferred only.
    private static let electionTypes: ClosedRange<Int8> = 0...1

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
}
