// A cluster as the command line sees it: bootstrapped from any of its brokers, with Metadata
// telling which broker leads each partition and FindCoordinator which one keeps a group's
// offsets; a connection per broker, opened when first needed.

import KafkaProtocol
import KafkaWire

public final class KafkaCluster {
    public let bootstrap: [String]
    let clientId: String
    let timeoutMilliseconds: Int32
    private var connections: [Int32: BrokerConnection] = [:]
    /// The broker that answered first; admin requests go there.
    public let any: BrokerConnection
    public private(set) var brokers: [Int32: String] = [:]

    public init(bootstrap: [String], clientId: String = "swiftlet", timeoutMilliseconds: Int32 = 10_000) throws(ClientError) {
        self.bootstrap = bootstrap
        self.clientId = clientId
        self.timeoutMilliseconds = timeoutMilliseconds
        var failure = ClientError("no bootstrap server given")
        var connected: BrokerConnection?
        for address in bootstrap {
            do {
                connected = try BrokerConnection(address, clientId: clientId, timeoutMilliseconds: timeoutMilliseconds)
                break
            } catch {
                failure = error
            }
        }
        guard let connected else { throw failure }
        any = connected
    }

    /// Metadata for `topics` (nil: every topic); remembers where the brokers are.
    public func metadata(topics: [String]?) throws(ClientError) -> MetadataResponse {
        let request = MetadataRequest(topics: topics.map { $0.map { .init(name: $0) } }, allowAutoTopicCreation: false)
        let (response, _) = try any.send(request)
        for broker in response.brokers {
            brokers[broker.nodeId] = broker.host.contains(":") ? "[\(broker.host)]:\(broker.port)" : "\(broker.host):\(broker.port)"
        }
        return response
    }

    /// One topic's metadata, or the error Kafka gave for it.
    public func topic(_ name: String) throws(ClientError) -> MetadataResponse.MetadataResponseTopic {
        let response = try metadata(topics: [name])
        guard let topic = response.topics.first(where: { $0.name == name }) else {
            throw ClientError("\(name): not in the broker's answer")
        }
        try KafkaFailure.check(topic.errorCode, subject: "topic \(name)")
        return topic
    }

    /// The connection to broker `nodeId` (the bootstrap one when it is that broker).
    public func connection(to nodeId: Int32) throws(ClientError) -> BrokerConnection {
        if let open = connections[nodeId] { return open }
        guard let address = brokers[nodeId] else { throw ClientError("broker \(nodeId) is not in the metadata") }
        let connection =
            address == any.address || brokers.count == 1
            ? any : try BrokerConnection(address, clientId: clientId, timeoutMilliseconds: timeoutMilliseconds)
        connections[nodeId] = connection
        return connection
    }

    /// The coordinator of a consumer group.
    public func coordinator(of group: String) throws(ClientError) -> BrokerConnection {
        let version = try any.version(of: FindCoordinatorRequest.self)
        // v4 on asks for several keys at once; before, for one.
        let request =
            version >= 4
            ? FindCoordinatorRequest(key: "", keyType: 0, coordinatorKeys: [group])
            : FindCoordinatorRequest(key: group, keyType: 0, coordinatorKeys: [])
        let response = try any.send(request, version: version)
        let (nodeId, host, port, code, message): (Int32, String, Int32, Int16, String?) =
            version >= 4
            ? response.coordinators.first.map { ($0.nodeId, $0.host, $0.port, $0.errorCode, $0.errorMessage) } ?? (-1, "", 0, 15, nil)
            : (response.nodeId, response.host, response.port, response.errorCode, response.errorMessage)
        try KafkaFailure.check(code, subject: "group \(group)", message: message)
        if brokers[nodeId] == nil { brokers[nodeId] = "\(host):\(port)" }
        return try connection(to: nodeId)
    }
}

/// A Kafka error code as the command line reports it: Kafka's name, the broker's message,
/// and one line of advice.
public enum KafkaFailure {
    public static func check(_ code: Int16, subject: String, message: String? = nil) throws(ClientError) {
        guard code != 0 else { return }
        throw ClientError(describe(code, subject: subject, message: message))
    }

    public static func describe(_ code: Int16, subject: String, message: String? = nil) -> String {
        let name = ErrorCode(rawValue: code)?.kafkaName ?? "error \(code)"
        var text = "\(subject): \(name)"
        if let message, !message.isEmpty { text += " (\(message))" }
        if let hint = advice[name] { text += "\n  hint: \(hint)" }
        return text
    }

    static let advice: [String: String] = [
        "UNKNOWN_TOPIC_OR_PARTITION": "check the name with `swiftlet topic list`",
        "UNKNOWN_TOPIC_ID": "the topic was deleted or re-created; list topics again",
        "TOPIC_ALREADY_EXISTS": "see it with `swiftlet topic describe NAME`, or delete it first",
        "INVALID_PARTITIONS": "a topic needs at least one partition, and partition counts only grow",
        "INVALID_REPLICATION_FACTOR": "the replication factor cannot exceed the brokers there are (`swiftlet cluster info`)",
        "INVALID_CONFIG": "see the configs a topic takes in Kafka's documentation (topic configs)",
        "INVALID_TOPIC_EXCEPTION": "topic names are up to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'",
        "TOPIC_AUTHORIZATION_FAILED": "the principal needs an ACL for this topic (kafka-acls.sh, or --authorizer's super.users)",
        "GROUP_AUTHORIZATION_FAILED": "the principal needs a READ ACL on the group",
        "CLUSTER_AUTHORIZATION_FAILED": "the principal needs an ACL on the cluster resource",
        "GROUP_ID_NOT_FOUND": "list groups with `swiftlet group list`",
        "NON_EMPTY_GROUP": "stop the group's consumers first (`swiftlet group describe GROUP` shows them)",
        "COORDINATOR_NOT_AVAILABLE": "the broker is starting or moving the group; try again",
        "NOT_COORDINATOR": "the group moved to another broker; try again",
        "UNSUPPORTED_VERSION": "the broker is older than this request; a newer broker serves it",
        "POLICY_VIOLATION": "the broker's policy refused it; its message says why",
        "THROTTLING_QUOTA_EXCEEDED": "a controller_mutation_rate quota holds this client back; wait and retry",
        "MESSAGE_TOO_LARGE": "the record exceeds max.message.bytes (topic) or message.max.bytes (broker)",
        "RECORD_LIST_TOO_LARGE": "send fewer records per batch",
        "SASL_AUTHENTICATION_FAILED": "check the user and password",
        "UNKNOWN_MEMBER_ID": "the group has members: stop them before resetting offsets",
    ]
}
