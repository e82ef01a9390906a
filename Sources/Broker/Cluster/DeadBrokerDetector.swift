// The controller's quick failure detector. A broker killed outright (kill -9, a crash) leaves
// its port closed at once, while its lease lives on for broker.session.timeout.ms. A broker
// whose inter-broker port refuses connections has no process listening (a registered broker
// listens before it registers, and a full backlog drops connections rather than refusing
// them): the controller revokes its lease (the registration, and the controller role if it held it,
// go with it), so that its partitions are led again within a second rather than a session
// later. A paused or unreachable broker refuses nothing (its connections hang or time out)
// and is left to its lease.

import Glibc
import SystemCalls

enum DeadBrokerDetector {
    /// A look at a broker that does not answer at once: it is not refusing.
    static let connectTimeoutMilliseconds: Int32 = 300

    /// The brokers of `brokers` whose endpoint on `listener` refuses connections.
    static func refusing(_ brokers: [BrokerRegistration], listener: String) -> [BrokerRegistration] {
        brokers.filter { broker in broker.endpoint(listener).map { refuses(host: $0.host, port: $0.port) } ?? false }
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
