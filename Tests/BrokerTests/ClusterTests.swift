// Cluster membership against the in-memory metadata store, with a clock the test moves:
// registration under leases, a node id taken, leases expiring and renewed, the controller's
// election and its move, the cluster id of the first broker; brokers in one process listing
// each other in Metadata; and the etcd client's HTTP reading sans IO.

import KafkaProtocol
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

    @Test func leasesKeepBrokersListedAndElectOneController() throws {
        let clock = Clock()
        let store = InMemoryMetadataStore(clock: clock.read)
        #expect(try store.clusterId(proposing: "first") == "first")
        #expect(try store.clusterId(proposing: "second") == "first")
        let one = try ClusterMembership(store: store, registration: Self.registration(1), leaseSeconds: 9, logger: Self.quiet)
        let two = try ClusterMembership(store: store, registration: Self.registration(2, port: 9093), leaseSeconds: 9, logger: Self.quiet)
        #expect(throws: ClusterMembership.Failure.self) {
            try ClusterMembership(store: store, registration: Self.registration(2, port: 9999), leaseSeconds: 9, logger: Self.quiet)
        }
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
}
