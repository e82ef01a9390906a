// SASL/PLAIN (RFC 4616): one token, "authzid NUL user NUL password", checked against the
// configured users with Kafka's PlainSaslServer messages.

public struct PlainExchange: SaslExchange {
    /// The password a user has; nil for an unknown user.
    let password: (String) -> String?

    public init(password: @escaping (String) -> String?) {
        self.password = password
    }

    public mutating func evaluate(_ token: [UInt8]) -> Result<SaslStep, SaslFailure> {
        let parts = token.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 3 else {
            return .failure(SaslFailure("Invalid SASL/PLAIN response: expected 3 tokens, got \(parts.count)"))
        }
        let (authorizationId, user, given) = (parts[0], parts[1], parts[2])
        guard !user.isEmpty else { return .failure(SaslFailure("Authentication failed: username not specified")) }
        guard !given.isEmpty else { return .failure(SaslFailure("Authentication failed: password not specified")) }
        guard authorizationId.isEmpty || authorizationId == user else {
            return .failure(SaslFailure("Authentication failed: Client requested an authorization id that is different from username"))
        }
        guard let expected = password(user), Crypto.constantTimeEqual(Array(expected.utf8), Array(given.utf8)) else {
            return .failure(SaslFailure("Authentication failed: Invalid username or password"))
        }
        return .success(.success(reply: [], user: user))
    }
}
