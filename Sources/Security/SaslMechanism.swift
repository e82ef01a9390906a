// What the SASL mechanisms have in common: the names Kafka uses, an exchange that takes a
// client's token and answers with a challenge, a success or a failure, and the failure
// messages clients show (Kafka's, so an application's error handling sees what it knows).

/// The mechanisms Swiftlet serves, by Kafka's names (sasl.enabled.mechanisms).
public enum SaslMechanismName: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case scramSha256 = "SCRAM-SHA-256"
    case scramSha512 = "SCRAM-SHA-512"
    case oauthBearer = "OAUTHBEARER"
}

/// One step of an exchange.
public enum SaslStep: Equatable, Sendable {
    /// More is needed from the client: send these bytes and wait for its next token.
    case challenge([UInt8])
    /// Authenticated as `user`; `reply` (possibly empty) goes to the client.
    case success(reply: [UInt8], user: String)
}

public struct SaslFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// What SaslAuthenticate's error message says.
    public let message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }

    /// Kafka's answer to any SCRAM or OAUTHBEARER failure, whatever went wrong (an unknown
    /// user and a wrong password read the same).
    static func invalidCredentials(_ mechanism: String) -> SaslFailure {
        SaslFailure("Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism)")
    }
}

/// A server-side exchange: each client token in turn, until success or failure.
public protocol SaslExchange {
    mutating func evaluate(_ token: [UInt8]) -> Result<SaslStep, SaslFailure>
}
