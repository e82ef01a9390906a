// What one client connection has established: the listener it came in on, its principal,
// and where it is in Kafka's SASL exchange. Touched only on the connection's event loop
// (its requests are decoded and their SASL steps handled there).

import Security

final class ConnectionSession: @unchecked Sendable {
    enum SaslStage {
        /// Not a SASL listener, or authenticated.
        case done
        /// A SASL listener: ApiVersions and SaslHandshake only.
        case awaitingHandshake
        /// After SaslHandshake v1: SaslAuthenticate requests carry the tokens.
        case awaitingAuthenticate(any SaslExchange, mechanism: String)
        /// After SaslHandshake v0: raw length-prefixed tokens, no Kafka header, as old
        /// clients send them.
        case awaitingRawToken(any SaslExchange, mechanism: String)
        /// Authentication failed: the connection closes once the refusal is sent.
        case failed
    }

    let listener: Int
    /// Kafka's principal as authorizers and logs show it: `User:ANONYMOUS` until a SASL
    /// exchange (or a client certificate) names the user.
    var principal = "User:ANONYMOUS"
    var sasl: SaslStage
    /// KIP-368: when the SASL session ends (wall-clock ms); nil when it does not expire
    /// (connections.max.reauth.ms 0, or no SASL). A request after it, other than a new
    /// exchange, closes the connection.
    var sessionExpiry: Int64?
    /// A first exchange succeeded: a later one is a re-authentication, during which the
    /// connection stays authenticated, and which may not change the principal.
    var authenticatedOnce = false
    /// The client's software, from ApiVersions v3+ (KIP-511); empty until then.
    var clientSoftwareName = ""
    var clientSoftwareVersion = ""

    init(listener: Int, requiresSasl: Bool) {
        self.listener = listener
        sasl = requiresSasl ? .awaitingHandshake : .done
    }

    var isAuthenticated: Bool {
        if case .done = sasl { return true }
        if case .failed = sasl { return false }
        return authenticatedOnce
    }
}
