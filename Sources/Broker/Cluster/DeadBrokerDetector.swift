// The controller's quick failure detector. A broker killed outright (kill -9, a crash) leaves
// its port closed at once, while its lease lives on for broker.session.timeout.ms. A broker
// whose inter-broker port refuses connections at two looks in a row has no process listening:
// the controller revokes its lease (the registration, and the controller role if it held it,
// go with it), so that its partitions are led again within a second rather than a session
// later. A paused or unreachable broker refuses nothing (its connections hang or time out)
// and is left to its lease.

import Glibc
import Synchronization
import SystemCalls

final class DeadBrokerDetector: Sendable {
    /// Consecutive refused looks, by node id.
    private let refusals = Mutex<[Int32: Int]>([:])
    /// Refusals in a row before a broker counts as gone: one more look past a restart's
    /// rebind, never a single refused connect.
    static let refusalsToFence = 2
    /// A look at a broker that does not answer at once: it is not refusing.
    static let connectTimeoutMilliseconds: Int32 = 300

    /// Looks at each of `brokers` on `listener`: the ones refused enough times in a row.
    func look(at brokers: [BrokerRegistration], listener: String) -> [BrokerRegistration] {
        var refused: Set<Int32> = []
        for broker in brokers {
            guard let endpoint = broker.endpoint(listener), Self.refuses(host: endpoint.host, port: endpoint.port) else { continue }
            refused.insert(broker.nodeId)
        }
        return refusals.withLock { refusals in
            refusals = refusals.filter { refused.contains($0.key) }
            for nodeId in refused { refusals[nodeId, default: 0] += 1 }
            return brokers.filter { (refusals[$0.nodeId] ?? 0) >= Self.refusalsToFence }
        }
    }

    /// Whether a connection to host:port is refused (nothing listens there); a timeout, an
    /// unreachable network or a name that does not resolve are not refusals.
    static func refuses(host: String, port: Int32) -> Bool {
        guard let address = try? SocketAddress.resolve("\(host):\(port)").first else { return false }
        do {
            _ = try BlockingSocket(connectingTo: address, timeoutMilliseconds: connectTimeoutMilliseconds)
            return false
        } catch {
            return error.errno == ECONNREFUSED
        }
    }
}
