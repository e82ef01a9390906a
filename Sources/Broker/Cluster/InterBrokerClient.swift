// Requests one broker of the cluster sends another (replication's fetches, the transaction
// coordinator's WriteTxnMarkers), over the inter-broker listener (inter.broker.listener.name),
// signed in with SASL (PLAIN or SCRAM) when that listener uses it. TLS between brokers is not
// served yet.

import Coordinators
import KafkaClient
import KafkaProtocol
import KafkaWire
import Security
import Synchronization
import SystemCalls

final class InterBrokerClient: Sendable {
    /// One connection per broker address, reused; dropped after a failure.
    private let connections = Mutex<[String: ConnectionBox]>([:])

    private final class ConnectionBox: @unchecked Sendable {
        // Used only under `connections`' lock.
        let connection: BrokerConnection
        init(_ connection: BrokerConnection) { self.connection = connection }
    }

    /// Longer than the other broker's wait for its replicas (a WriteTxnMarkers waits as acks=all).
    static let timeoutMilliseconds: Int32 = 15_000

    /// Sends `request` to the broker at `address` and returns its response. Calls are one at
    /// a time: they are few (a transaction's end), and a BrokerConnection is not shared.
    func send<Request: KafkaRequest>(_ request: Request, to address: String, from broker: Broker) throws -> Request.Response {
        try connections.withLock { connections in
            let box =
                try connections[address]
                ?? ConnectionBox(
                    broker.connectToBroker(address, clientId: "swiftlet-broker", timeoutMilliseconds: Self.timeoutMilliseconds))
            connections[address] = nil
            let response = try box.connection.send(request).response
            connections[address] = box
            return response
        }
    }
}

extension Broker {
    /// The listener other brokers are reached on (its name in their registrations):
    /// inter.broker.listener.name, else the first of security.inter.broker.protocol's, else the
    /// first listener.
    var interBrokerListener: String { Self.interBrokerListenerName(configuration) ?? configuration.listeners[0].name }

    private static func interBrokerListenerName(_ configuration: BrokerConfiguration) -> String? {
        configuration.interBrokerListenerName
            ?? configuration.listeners.first { $0.securityProtocol == configuration.interBrokerSecurityProtocol }?.name
    }

    /// Why this cluster member cannot reach the others as configured; nil when it can.
    public static func interBrokerProblem(_ configuration: BrokerConfiguration) -> String? {
        guard let name = interBrokerListenerName(configuration), let listener = configuration.listeners.first(where: { $0.name == name })
        else {
            return configuration.interBrokerListenerName.map { "inter.broker.listener.name \($0) is not one of the listeners" }
                ?? "no listener uses security.inter.broker.protocol \(configuration.interBrokerSecurityProtocol.rawValue); set inter.broker.listener.name"
        }
        if listener.securityProtocol.usesTLS {
            return
                "inter-broker listener \(name) uses TLS (\(listener.securityProtocol.rawValue)), which brokers do not speak to each other yet; use PLAINTEXT or SASL_PLAINTEXT"
        }
        guard listener.securityProtocol.usesSASL else { return nil }
        let mechanism = configuration.sasl.interBrokerMechanism
        guard SaslClient.Mechanism(name: mechanism) != nil else {
            return
                "sasl.mechanism.inter.broker.protocol \(mechanism): brokers sign in to each other with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
        }
        guard configuration.sasl.clientCredential(listener: name, mechanism: mechanism) != nil else {
            return
                "listener.name.\(name.lowercased()).\(mechanism.lowercased()).sasl.jaas.config: the inter-broker listener needs username=\"...\" password=\"...\" to sign in to the other brokers with"
        }
        return nil
    }

    /// A connection to another broker's inter-broker listener at `address`, signed in with
    /// SASL when that listener uses it.
    func connectToBroker(_ address: String, clientId: String, timeoutMilliseconds: Int32) throws -> BrokerConnection {
        let connection = try BrokerConnection(address, clientId: clientId, timeoutMilliseconds: timeoutMilliseconds)
        let name = interBrokerListener
        guard configuration.listeners.first(where: { $0.name == name })?.securityProtocol.usesSASL == true else { return connection }
        let mechanismName = configuration.sasl.interBrokerMechanism
        guard let mechanism = SaslClient.Mechanism(name: mechanismName),
            let credential = configuration.sasl.clientCredential(listener: name, mechanism: mechanismName)
        else { throw ClientError("no inter-broker credential for \(mechanismName)") }
        let handshake = try connection.send(SaslHandshakeRequest(mechanism: mechanism.name), version: 1)
        guard handshake.errorCode == 0 else {
            throw ClientError(
                "\(address) does not take \(mechanism.name) (error \(handshake.errorCode)): it offers \(handshake.mechanisms)")
        }
        var client = SaslClient(mechanism: mechanism, user: credential.user, password: credential.password)
        var token = client.first()
        while true {
            let answer = try connection.send(SaslAuthenticateRequest(authBytes: token), version: 1)
            guard answer.errorCode == 0 else {
                throw ClientError("\(address) refused \(credential.user): \(answer.errorMessage ?? "error \(answer.errorCode)")")
            }
            switch client.next(answer.authBytes) {
            case .respond(let next): token = next
            case .done: return connection
            case nil: throw ClientError("\(address) did not prove it knows \(credential.user)'s credential")
            }
        }
    }

    /// "host:port" of the broker that leads `partition` when it is another live one.
    func leaderAddress(of partition: TopicPartition) -> String? {
        guard let state = ledElsewhere(partition),
            let endpoint = membership?.brokers.first(where: { $0.nodeId == state.leader })?.endpoint(interBrokerListener)
        else { return nil }
        return "\(endpoint.host):\(endpoint.port)"
    }
}

/// The transaction coordinator's markers (Kafka's TransactionMarkerChannelManager): written
/// here for the partitions this broker leads and counted once their in-sync replicas have
/// them; sent as WriteTxnMarkers to the leader of the others, from a thread of their own, as
/// the call blocks until that leader's replicas have them. A partition whose leader is
/// offline is not written, so that the coordinator retries it rather than count it deleted.
final class RoutedMarkerWriter: TransactionMarkerWriter, @unchecked Sendable {
    let local: BrokerMarkerWriter
    private let interBroker = InterBrokerClient()
    // Under `lock`: the broker (set once by its init) and the sending thread, started with
    // the first marker for another broker and stopped with the broker.
    private let lock = Lock()
    private weak var owner: Broker?
    private var sender: WorkQueue?
    private var stopped = false

    enum MarkerRoute {
        case here
        case leader(String)
        case offline
    }

    init(local: BrokerMarkerWriter) { self.local = local }

    func attach(to broker: Broker) { lock.withLock { owner = broker } }

    func stop() {
        let queue = lock.withLock {
            stopped = true
            return sender
        }
        queue?.stop()
    }

    func writeMarkers(
        to partitions: [TopicPartition], producerId: Int64, producerEpoch: Int16, commit: Bool,
        _ done: @escaping @Sendable (Set<TopicPartition>) -> Void
    ) {
        guard let broker = lock.withLock({ owner }) else { return done(Set(partitions)) }
        var unwritten: Set<TopicPartition> = []
        var writtenHere: [TopicPartition] = []
        var elsewhere: [String: [TopicPartition]] = [:]
        for partition in partitions {
            switch broker.markerRoute(partition) {
            case .here:
                do {
                    try local.writeMarker(to: partition, producerId: producerId, producerEpoch: producerEpoch, commit: commit)
                    writtenHere.append(partition)
                } catch CoordinatorWriteError.unknownPartition {
                    continue  // deleted meanwhile: nothing left to mark
                } catch {
                    unwritten.insert(partition)
                }
            case .offline:
                unwritten.insert(partition)
            case .leader(let address):
                elsewhere[address, default: []].append(partition)
            }
        }
        let failedHere = unwritten
        broker.whenReplicated(writtenHere) { [self, writtenHere, elsewhere] outcomes in
            let unwritten = failedHere.union(zip(writtenHere, outcomes).filter { $0.1 != .none }.map(\.0))
            guard !elsewhere.isEmpty else { return done(unwritten) }
            let sendElsewhere: @Sendable () -> Void = { [self] in
                var unsent = unwritten
                for (address, partitions) in elsewhere {
                    unsent.formUnion(
                        self.send(
                            partitions, to: address, from: broker, producerId: producerId, producerEpoch: producerEpoch, commit: commit))
                }
                done(unsent)
            }
            let queue = lock.withLock { () -> WorkQueue? in
                if sender == nil && !stopped { sender = try? WorkQueue(name: "swiftlet-markers") }
                return sender
            }
            guard let queue, queue.executeIfRunning(sendElsewhere) else { return done(unwritten.union(elsewhere.values.joined())) }
        }
    }

    /// WriteTxnMarkers to the leader at `address`; returns the partitions it did not write.
    private func send(
        _ partitions: [TopicPartition], to address: String, from broker: Broker, producerId: Int64, producerEpoch: Int16, commit: Bool
    ) -> Set<TopicPartition> {
        let request = WriteTxnMarkersRequest(markers: [
            .init(
                producerId: producerId, producerEpoch: producerEpoch, transactionResult: commit,
                topics: Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map {
                    .init(name: $0.key, partitionIndexes: $0.value.map(\.partition))
                }, coordinatorEpoch: 0)
        ])
        guard let response = try? interBroker.send(request, to: address, from: broker) else { return Set(partitions) }
        var unwritten = Set(partitions)
        for topic in response.markers.first?.topics ?? [] {
            for result in topic.partitions {
                // A partition deleted meanwhile has nothing left to mark.
                let error = ErrorCode(rawValue: result.errorCode) ?? .unknownServerError
                if error == .none || error == .unknownTopicOrPartition {
                    unwritten.remove(TopicPartition(topic: topic.name, partition: result.partitionIndex))
                }
            }
        }
        return unwritten
    }
}

extension Broker {
    /// Where the transaction coordinator's marker for `partition` goes.
    func markerRoute(_ partition: TopicPartition) -> RoutedMarkerWriter.MarkerRoute {
        guard ledElsewhere(partition) != nil else { return .here }
        return leaderAddress(of: partition).map { .leader($0) } ?? .offline
    }
}
