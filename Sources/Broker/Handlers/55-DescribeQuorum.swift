// DescribeQuorum (key 55): the KRaft quorum of the cluster metadata log, as a single node
// that is broker and controller at once reports it: this node the leader and only voter,
// no observers. Swiftlet keeps no metadata log, so its offsets are 0.

import KafkaProtocol
import SystemCalls

struct DescribeQuorumHandler: ApiHandler {
    typealias Request = DescribeQuorumRequest
    let advertised: ClosedRange<Int16> = 0...2

    static let metadataTopic = "__cluster_metadata"
    static let leaderEpoch: Int32 = 1
    /// Swiftlet's one listener serves clients and "controller" requests alike, without TLS or
    /// SASL: Kafka's name for such a listener.
    static let listenerName = "PLAINTEXT"

    func handle(_ request: DescribeQuorumRequest, _ context: RequestContext<DescribeQuorumRequest>) {
        let broker = context.broker
        let nodeId = broker.configuration.nodeId
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(DescribeQuorumResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, topics: []))
        }
        // Kafka's raft client answers exactly one partition, its own; any other request gets
        // UNKNOWN_TOPIC_OR_PARTITION on every partition it names.
        guard request.topics.count == 1, request.topics[0].topicName == Self.metadataTopic,
            request.topics[0].partitions.map(\.partitionIndex) == [0]
        else {
            return context.send(
                DescribeQuorumResponse(
                    topics: request.topics.map { topic in
                        .init(
                            topicName: topic.topicName,
                            partitions: topic.partitions.map {
                                .init(
                                    partitionIndex: $0.partitionIndex, errorCode: ErrorCode.unknownTopicOrPartition.rawValue,
                                    errorMessage: context.version >= 2 ? "This server does not host this topic-partition." : nil)
                            })
                    }))
        }
        // Kafka reports the current time for the leader's own fetch and catch-up.
        let now = System.wallClockMilliseconds()
        let leader = DescribeQuorumResponse.ReplicaState(
            replicaId: nodeId, logEndOffset: 0, lastFetchTimestamp: now,
            lastCaughtUpTimestamp: now)
        var response = DescribeQuorumResponse(topics: [
            .init(
                topicName: Self.metadataTopic,
                partitions: [
                    .init(
                        partitionIndex: 0, leaderId: nodeId, leaderEpoch: Self.leaderEpoch, highWatermark: 0,
                        currentVoters: [leader], observers: [])
                ])
        ])
        if context.version >= 2 {
            // The voters' endpoints (KIP-853): this node's one listener.
            let (host, port) = broker.advertised(listener: context.listener)
            response.nodes = [.init(nodeId: nodeId, listeners: [.init(name: Self.listenerName, host: host, port: UInt16(clamping: port))])]
        }
        context.send(response)
    }
}
