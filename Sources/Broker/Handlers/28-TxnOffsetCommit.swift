// TxnOffsetCommit (key 28): a transactional producer commits a group's offsets inside its
// transaction (consume-transform-produce). They count once the transaction commits.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct TxnOffsetCommitHandler: ApiHandler {
    typealias Request = TxnOffsetCommitRequest
    let advertised: ClosedRange<Int16> = 0...5

    func handle(_ request: TxnOffsetCommitRequest, _ context: RequestContext<TxnOffsetCommitRequest>) {
        let broker = context.broker
        let groupPartition = broker.offsetsPartition(of: request.groupId)
        // The group's partition must be in the producer's transaction (AddOffsetsToTxn), when this
        // broker coordinates it too. Else, as Produce, the log's producer epoch fences the write:
        // asking the other coordinator (KIP-890's verifyOnly) is not done yet.
        var verdict =
            broker.coordinatedHere(transactionalId: request.transactionalId)
            ? broker.transactions.verify(producerId: request.producerId, producerEpoch: request.producerEpoch, partition: groupPartition)
            : .none
        if verdict == .invalidProducerIdMapping || verdict == .producerFenced { verdict = .invalidProducerEpoch }
        // Kafka: WRITE on the transactional id, READ on the group, READ on each topic.
        if !context.authorized(.write, .transactionalId, request.transactionalId) {
            verdict = .transactionalIdAuthorizationFailed
        } else if !context.authorized(.read, .group, request.groupId) {
            verdict = .groupAuthorizationFailed
        } else if broker.coordinatedElsewhere(group: request.groupId) {
            verdict = .notCoordinator
        }
        var inputs: [OffsetCommitInput] = []
        var checked: [[ErrorCode?]] = []
        for topic in request.topics {
            let info = broker.topics.topic(named: topic.name)
            checked.append(
                topic.partitions.map { partition in
                    guard verdict == .none else { return verdict }
                    guard context.authorized(.read, .topic, topic.name) else { return .topicAuthorizationFailed }
                    guard let info, (0..<info.partitions).contains(partition.partitionIndex) else { return .unknownTopicOrPartition }
                    inputs.append(
                        OffsetCommitInput(
                            partition: TopicPartition(topic: topic.name, partition: partition.partitionIndex),
                            offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch,
                            metadata: partition.committedMetadata))
                    return nil
                })
        }
        var errors =
            (inputs.isEmpty
            ? []
            : broker.groups.commitTransactionalOffsets(
                groupId: request.groupId, producerId: request.producerId, producerEpoch: request.producerEpoch,
                generationId: context.version >= 3 ? request.generationId : -1, memberId: context.version >= 3 ? request.memberId : "",
                groupInstanceId: request.groupInstanceId, offsets: inputs)).makeIterator()
        var response = TxnOffsetCommitResponse()
        for (topic, results) in zip(request.topics, checked) {
            response.topics.append(
                .init(
                    name: topic.name,
                    partitions: zip(topic.partitions, results).map {
                        .init(partitionIndex: $0.0.partitionIndex, errorCode: ($0.1 ?? errors.next() ?? .unknownServerError).rawValue)
                    }))
        }
        guard response.topics.contains(where: { $0.partitions.contains { $0.errorCode == 0 } }) else { return context.send(response) }
        // Answered once the group's in-sync replicas have the offsets, as OffsetCommit.
        let finished = response
        context.sendWhenReplicated(finished, coordinatorPartition: groupPartition) { error in
            var refused = finished
            for topic in refused.topics.indices {
                for partition in refused.topics[topic].partitions.indices where refused.topics[topic].partitions[partition].errorCode == 0 {
                    refused.topics[topic].partitions[partition].errorCode = error.rawValue
                }
            }
            return refused
        }
    }
}
