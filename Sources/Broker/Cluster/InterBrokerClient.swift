// Requests one broker of the cluster sends another (today the transaction coordinator's
// WriteTxnMarkers to the leaders of the partitions a transaction wrote), over the other
// broker's first PLAINTEXT listener: inter-broker traffic with TLS or SASL is not served yet.

import Coordinators
import KafkaClient
import KafkaProtocol
import KafkaWire
import Synchronization

final class InterBrokerClient: Sendable {
    /// One connection per broker address, reused; dropped after a failure.
    private let connections = Mutex<[String: ConnectionBox]>([:])

    private final class ConnectionBox: @unchecked Sendable {
        // Used only under `connections`' lock.
        let connection: BrokerConnection
        init(_ connection: BrokerConnection) { self.connection = connection }
    }

    /// Sends `request` to the broker at `address` and returns its response. Calls are one at
    /// a time: they are few (a transaction's end), and a BrokerConnection is not shared.
    func send<Request: KafkaRequest>(_ request: Request, to address: String) throws -> Request.Response {
        try connections.withLock { connections in
            let box =
                try connections[address]
                ?? ConnectionBox(BrokerConnection(address, clientId: "swiftlet-broker", timeoutMilliseconds: 5_000))
            connections[address] = nil
            let response = try box.connection.send(request).response
            connections[address] = box
            return response
        }
    }
}

extension Broker {
    /// The listener other brokers are reached on: its name in their registrations.
    var interBrokerListener: String {
        (configuration.listeners.first { $0.securityProtocol == .plaintext } ?? configuration.listeners[0]).name
    }

    /// "host:port" of the broker that leads `partition` when it is another live one.
    func leaderAddress(of partition: TopicPartition) -> String? {
        guard let state = ledElsewhere(partition),
            let endpoint = membership?.brokers.first(where: { $0.nodeId == state.leader })?.endpoint(interBrokerListener)
        else { return nil }
        return "\(endpoint.host):\(endpoint.port)"
    }
}

/// The transaction coordinator's markers: written here for the partitions this broker leads,
/// sent as WriteTxnMarkers to the leader of the others. A partition whose leader is offline
/// fails, so that the coordinator retries it rather than count it as deleted.
final class RoutedMarkerWriter: TransactionMarkerWriter {
    let local: BrokerMarkerWriter
    private let interBroker = InterBrokerClient()
    /// Set once the broker is built: where a partition is led (.here, an address, or offline).
    private let route = Mutex<(@Sendable (TopicPartition) -> MarkerRoute)?>(nil)

    enum MarkerRoute {
        case here
        case leader(String)
        case offline
    }

    struct LeaderOffline: Error, CustomStringConvertible {
        let partition: TopicPartition
        var description: String { "the leader of \(partition) is offline" }
    }

    init(local: BrokerMarkerWriter) { self.local = local }

    func setRoute(_ lookup: @escaping @Sendable (TopicPartition) -> MarkerRoute) { route.withLock { $0 = lookup } }

    func writeMarker(to partition: TopicPartition, producerId: Int64, producerEpoch: Int16, commit: Bool) throws {
        switch route.withLock({ $0 })?(partition) ?? .here {
        case .here:
            try local.writeMarker(to: partition, producerId: producerId, producerEpoch: producerEpoch, commit: commit)
        case .offline:
            throw LeaderOffline(partition: partition)
        case .leader(let address):
            let response = try interBroker.send(
                WriteTxnMarkersRequest(markers: [
                    .init(
                        producerId: producerId, producerEpoch: producerEpoch, transactionResult: commit,
                        topics: [.init(name: partition.topic, partitionIndexes: [partition.partition])], coordinatorEpoch: 0)
                ]), to: address)
            let code = response.markers.first?.topics.first?.partitions.first?.errorCode ?? ErrorCode.unknownServerError.rawValue
            switch ErrorCode(rawValue: code) ?? .unknownServerError {
            case .none: return
            case .unknownTopicOrPartition: throw CoordinatorWriteError.unknownPartition(partition)
            case .invalidProducerEpoch: throw CoordinatorWriteError.fencedProducerEpoch
            case let error: throw ClientError("WriteTxnMarkers to \(address) for \(partition): \(error)")
            }
        }
    }
}

extension Broker {
    /// Where the transaction coordinator's marker for `partition` goes.
    func markerRoute(_ partition: TopicPartition) -> RoutedMarkerWriter.MarkerRoute {
        guard ledElsewhere(partition) != nil else { return .here }
        return leaderAddress(of: partition).map { .leader($0) } ?? .offline
    }
}
