// A client connection as the console's Clients page lists it: its listener, peer, principal,
// client id, software and request count, read on its loop when a scrape asks.

/// A connection as the console lists it, kept up to date by its KafkaConnection on the loop.
final class ConnectedClient {
    struct Description: Sendable {
        let connection: String
        let listener: Int
        let peer: String
        let principal: String
        let clientId: String
        let softwareName: String
        let softwareVersion: String
        let connectedAtMilliseconds: Int64
        let requests: Int
    }

    /// The connection's listener, principal and software (loop-only, as this is).
    let session: ConnectionSession
    /// The reactor's name for the connection ("fd 12#3"), as its debug lines show it.
    let connection: String
    let peer: String
    let connectedAtMilliseconds: Int64
    var clientId = ""
    var requests = 0

    init(session: ConnectionSession, connection: String, peer: String, connectedAtMilliseconds: Int64) {
        self.session = session
        self.connection = connection
        self.peer = peer
        self.connectedAtMilliseconds = connectedAtMilliseconds
    }

    var listener: Int { session.listener }

    var description: Description {
        Description(
            connection: connection, listener: session.listener, peer: peer, principal: session.principal, clientId: clientId,
            softwareName: session.clientSoftwareName, softwareVersion: session.clientSoftwareVersion,
            connectedAtMilliseconds: connectedAtMilliseconds, requests: requests)
    }
}
