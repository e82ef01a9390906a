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

    init(listener: Int, requiresSasl: Bool) {
        self.listener = listener
        sasl = requiresSasl ? .awaitingHandshake : .done
    }

    var isAuthenticated: Bool {
        if case .done = sasl { return true }
        return false
    }
}
