// Metadata (key 3): the live brokers, topics with their ids, each partition's leader,
// replicas and in-sync replicas (this broker for all of them without a cluster), and
// auto-creation when the client allows it and the broker is set to.

import Coordinators
import KafkaProtocol
import KafkaWire
import LogStorage

struct MetadataHandler: ApiHandler {
    typealias Request = MetadataRequest
    let advertised: ClosedRange<Int16> = 0...13

    /// The topics asked for (nil: all) and whether missing ones may be created.
    private func wanted(_ request: MetadataRequest, _ context: RequestContext<MetadataRequest>)
        -> (topics: [MetadataRequest.MetadataRequestTopic]?, allowCreate: Bool)
    {
        // v0: an empty list means all topics; v1+: null means all, empty means none.
        let requested = context.version == 0 && request.topics?.isEmpty == true ? nil : request.topics
        return (requested, context.broker.configuration.autoCreateTopics && (context.version < 4 || request.allowAutoTopicCreation))
    }

    /// Auto-creation makes files: then on the admin thread, as CreateTopics.
    func runsOnAdminThread(_ request: MetadataRequest, _ context: RequestContext<MetadataRequest>) -> Bool {
        let (requested, allowCreate) = wanted(request, context)
        let topics = context.broker.topics
        return allowCreate
            && (requested ?? []).contains {
                $0.name.map { topics.topic(named: $0) == nil && TopicRegistry.validate($0) == nil } ?? false
            }
    }

    func handle(_ request: MetadataRequest, _ context: RequestContext<MetadataRequest>) {
        let (requested, allowCreate) = wanted(request, context)
        let broker = context.broker
        let cluster = broker.clusterView(listener: context.listener)
        var response = MetadataResponse(
            brokers: cluster.brokers.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port) },
            clusterId: broker.clusterId, controllerId: cluster.controllerId)
        if let requested {
            for wanted in requested {
                response.topics.append(describe(wanted, context: context, allowCreate: allowCreate))
            }
        } else {
            // All topics: those the principal may DESCRIBE.
            response.topics = broker.topics.all.filter { context.authorized(.describe, .topic, $0.name, logIfDenied: false) }.map {
                Self.describe($0, broker: broker)
            }
        }
        if request.includeTopicAuthorizedOperations && context.version >= 8 {
            for index in response.topics.indices where response.topics[index].errorCode == 0 {
                response.topics[index].topicAuthorizedOperations = context.authorizedOperations(.topic, response.topics[index].name ?? "")
            }
        }
        if request.includeClusterAuthorizedOperations && (8...10).contains(context.version) {
            response.clusterAuthorizedOperations = context.authorizedOperations(.cluster, clusterResourceName)
        }
        context.send(response)
    }

    private func describe(_ wanted: MetadataRequest.MetadataRequestTopic, context: RequestContext<MetadataRequest>, allowCreate: Bool)
        -> MetadataResponse.MetadataResponseTopic
    {
        let broker = context.broker
        if let name = wanted.name {
            let describable = context.authorized(.describe, .topic, name)
            if let topic = broker.topics.topic(named: name) {
                return describable
                    ? Self.describe(topic, broker: broker) : .init(errorCode: ErrorCode.topicAuthorizationFailed.rawValue, name: name)
            }
            // Auto-creation needs CREATE on the cluster or the topic, as in Kafka.
            let allowCreate =
                allowCreate
                && (context.authorized(.create, .cluster, clusterResourceName, logIfDenied: false)
                    || context.authorized(.create, .topic, name))
            if !allowCreate && !describable { return .init(errorCode: ErrorCode.topicAuthorizationFailed.rawValue, name: name) }
            if TopicRegistry.validate(name) != nil {
                return .init(errorCode: ErrorCode.invalidTopicException.rawValue, name: name)
            }
            if name == OffsetsTopic.name {
                // Kafka creates its internal topic as such (compacted, its own partition count).
                if allowCreate, (try? broker.offsetsTopic.ensureTopic()) != nil, let topic = broker.topics.topic(named: name) {
                    return Self.describe(topic, broker: broker)
                }
            } else if allowCreate,
                let topic = try? broker.createTopic(name: name, partitions: broker.configuration.defaultPartitions, configs: [:])
            {
                return Self.describe(topic, broker: broker)
            }
            // Created by another connection meanwhile?
            if let topic = broker.topics.topic(named: name) { return Self.describe(topic, broker: broker) }
            return .init(errorCode: ErrorCode.unknownTopicOrPartition.rawValue, name: name)
        }
        if let topic = broker.topics.topic(id: wanted.topicId) {
            return context.authorized(.describe, .topic, topic.name)
                ? Self.describe(topic, broker: broker)
                : .init(errorCode: ErrorCode.topicAuthorizationFailed.rawValue, name: nil, topicId: wanted.topicId)
        }
        return .init(errorCode: ErrorCode.unknownTopicId.rawValue, name: nil, topicId: wanted.topicId)
    }

    static func describe(_ topic: TopicInfo, broker: Broker) -> MetadataResponse.MetadataResponseTopic {
        .init(
            errorCode: ErrorCode.none.rawValue, name: topic.name, topicId: topic.topicId,
            isInternal: topic.isInternal,
            partitions: broker.partitionViews(topic.name, count: topic.partitions).enumerated().map { index, view in
                .init(
                    errorCode: view.errorCode.rawValue, partitionIndex: Int32(index), leaderId: view.leader,
                    leaderEpoch: view.leaderEpoch, replicaNodes: view.replicas, isrNodes: view.inSyncReplicas,
                    offlineReplicas: view.offlineReplicas)
            })
    }
}
