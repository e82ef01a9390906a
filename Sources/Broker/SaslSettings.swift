// Kafka's SASL settings for the listeners that use it: the mechanisms enabled (broker-wide
// and per listener), PLAIN's users from the JAAS configuration, and users given at start
// (`--user`) who get PLAIN passwords and SCRAM credentials; and the exchange a handshake
// starts for each mechanism.

import Security
import SystemCalls

public struct SaslSettings: Sendable {
    /// sasl.enabled.mechanisms (Kafka's default is GSSAPI, which Swiftlet does not serve).
    public var enabledMechanisms = ["GSSAPI"]
    /// listener.name.<name>.sasl.enabled.mechanisms, by listener name (uppercased).
    public var listenerMechanisms: [String: [String]] = [:]
    /// PLAIN's users and passwords: the `user_<name>="<password>"` entries of any PlainLoginModule
    /// JAAS configuration, and the users given with `--user`.
    public var plainUsers: [String: String] = [:]
    /// Users given with `--user`, who also get SCRAM-SHA-256 and SCRAM-SHA-512 credentials.
    public var startUsers: [String: String] = [:]
    /// sasl.mechanism.inter.broker.protocol: what a broker signs in to another with over a
    /// SASL inter-broker listener (Kafka's default GSSAPI, which Swiftlet does not serve).
    public var interBrokerMechanism = "GSSAPI"
    /// The `username` and `password` of JAAS configurations (a login module's client side), by
    /// "LISTENER/MECHANISM" (`listener.name.<l>.<mechanism>.sasl.jaas.config`), or "" for
    /// `sasl.jaas.config`: the credential a broker signs in to another with.
    public var clientCredentials: [String: SaslCredential] = [:]

    public struct SaslCredential: Sendable, Equatable {
        public var user: String
        public var password: String
        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }

    /// The credential a broker uses on `listener` with `mechanism`, looked up as Kafka does:
    /// the listener's and mechanism's JAAS configuration, then sasl.jaas.config.
    public func clientCredential(listener: String, mechanism: String) -> SaslCredential? {
        clientCredentials[listener.uppercased() + "/" + mechanism.uppercased()] ?? clientCredentials[""]
    }

    public init() {}

    /// The mechanisms a listener enables.
    public func mechanisms(for listener: Listener) -> [String] {
        listenerMechanisms[listener.name] ?? enabledMechanisms
    }

    /// Why a SASL listener cannot start (a mechanism Swiftlet does not serve, none at all,
    /// PLAIN without users), naming the key to fix; nil when it can.
    public func problem(with listener: Listener) -> String? {
        guard listener.securityProtocol.usesSASL else { return nil }
        let key =
            listenerMechanisms[listener.name] != nil
            ? "listener.name.\(listener.name.lowercased()).sasl.enabled.mechanisms" : "sasl.enabled.mechanisms"
        let mechanisms = mechanisms(for: listener)
        if mechanisms.isEmpty {
            return "\(key): listener \(listener.name) (\(listener.securityProtocol.rawValue)) enables no SASL mechanism"
        }
        if let unserved = mechanisms.first(where: { SaslMechanismName(rawValue: $0) == nil }) {
            return
                "\(key): \(unserved) is not served by Swiftlet (listener \(listener.name)); use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
        }
        if mechanisms.contains(SaslMechanismName.plain.rawValue) && plainUsers.isEmpty {
            return
                "listener.name.\(listener.name.lowercased()).plain.sasl.jaas.config: PLAIN is enabled on listener \(listener.name) but no user is configured (user_<name>=\"<password>\" entries, or --user NAME:PASSWORD)"
        }
        return nil
    }

    /// The `user_<name>="<password>"` entries of a JAAS configuration line, as Kafka's
    /// PlainLoginModule reads them; nil when the line does not parse.
    public static func plainUsers(jaas text: String) -> [String: String]? {
        jaasOptions(text).map { options in
            Dictionary(
                uniqueKeysWithValues: options.compactMap { key, value in
                    key.hasPrefix("user_") ? (String(key.dropFirst("user_".count)), value) : nil
                })
        }
    }

    /// The `username="..." password="..."` of a JAAS configuration line: what a login module
    /// signs in with. nil when the line does not parse or lacks either.
    public static func clientCredential(jaas text: String) -> SaslCredential? {
        guard let options = jaasOptions(text), let user = options["username"], let password = options["password"] else { return nil }
        return SaslCredential(user: user, password: password)
    }

    /// A JAAS configuration line's `key="value"` options; nil when it does not parse.
    static func jaasOptions(_ text: String) -> [String: String]? {
        var options: [String: String] = [:]
        var rest = Substring(text)
        // "<LoginModule class> <flag> key="value" key="value" ... ;"
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].split(whereSeparator: { $0.isWhitespace }).last.map(String.init) ?? ""
            var value = rest[rest.index(after: equals)...]
            guard value.first == "\"", let close = value.dropFirst().firstIndex(of: "\"") else { return nil }
            let quoted = String(value[value.index(after: value.startIndex)..<close])
            value = value[value.index(after: close)...]
            options[key] = quoted
            rest = value
        }
        return options
    }

    /// The exchange for `mechanism`, or nil when it is not one Swiftlet serves.
    func exchange(for mechanism: SaslMechanismName, scram: ScramCredentialStore) -> any SaslExchange {
        switch mechanism {
        case .plain:
            let users = plainUsers
            return PlainExchange { users[$0] }
        case .scramSha256:
            return ScramExchange(mechanism: .sha256) { scram.credential(user: $0, mechanism: .sha256) }
        case .scramSha512:
            return ScramExchange(mechanism: .sha512) { scram.credential(user: $0, mechanism: .sha512) }
        case .oauthBearer:
            return OAuthBearerExchange { Double(System.wallClockMilliseconds()) / 1_000 }
        }
    }
}
