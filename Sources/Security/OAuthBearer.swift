// SASL/OAUTHBEARER (RFC 7628) with unsecured JSON Web Tokens, as Kafka's unsecured validator
// accepts them for development: `alg` none and no signature, the principal in `sub`, and an
// `exp` in the future. A refused token gets the RFC's error challenge; the client's answer
// to it ends the exchange in failure, as Kafka's OAuthBearerSaslServer does.

import FoundationEssentials

public struct OAuthBearerExchange: SaslExchange {
    private var failed = false
    let now: () -> Double

    /// `now`: the time in seconds since the epoch.
    public init(now: @escaping () -> Double) {
        self.now = now
    }

    private struct Header: Decodable { var alg: String? }
    private struct Claims: Decodable {
        var sub: String?
        var exp: Double?
    }

    public mutating func evaluate(_ token: [UInt8]) -> Result<SaslStep, SaslFailure> {
        let failure = SaslFailure.invalidCredentials(SaslMechanismName.oauthBearer.rawValue)
        // After the error challenge the client sends a lone 0x01, and the exchange fails.
        if failed { return .failure(failure) }
        // "n,[a=authzid]," then key=value pairs, each ended by 0x01, and a final 0x01.
        let parts = token.split(separator: 1, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count >= 3, parts[0].hasPrefix("n,"), parts.last == "", parts[parts.count - 2] == "" else { return .failure(failure) }
        var bearer: String?
        for pair in parts[1..<(parts.count - 2)] {
            guard let equals = pair.firstIndex(of: "=") else { return .failure(failure) }
            if pair[..<equals] == "auth" {
                let value = pair[pair.index(after: equals)...]
                guard value.lowercased().hasPrefix("bearer ") else { return .failure(failure) }
                bearer = String(value.dropFirst("bearer ".count))
            }
        }
        guard let bearer, let user = validate(bearer) else {
            failed = true
            return .success(.challenge(Array(#"{"status":"invalid_token"}"#.utf8)))
        }
        let authorizationId = parts[0].dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).first ?? ""
        if authorizationId.hasPrefix("a="), authorizationId.dropFirst(2) != user {
            return .failure(SaslFailure("Authentication failed: Client requested an authorization id that is different from username"))
        }
        return .success(.success(reply: [], user: user))
    }

    /// The principal of an unsecured token ("header.claims."), or nil when Kafka's unsecured
    /// validator would refuse it.
    private func validate(_ token: String) -> String? {
        let pieces = token.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[2].isEmpty,
            let headerBytes = Base64.decode(String(pieces[0])), let claimsBytes = Base64.decode(String(pieces[1])),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)), header.alg == "none",
            let claims = try? JSONDecoder().decode(Claims.self, from: Data(claimsBytes)),
            let subject = claims.sub, !subject.isEmpty, let expiry = claims.exp, expiry > now()
        else { return nil }
        return subject
    }
}
