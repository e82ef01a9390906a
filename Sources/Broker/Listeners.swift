// Kafka's listeners: each a name, an address and a security protocol, written `NAME://host:port`
// where the name is a protocol or one that listener.security.protocol.map maps to one, and
// each advertised to the clients that connect to it (advertised.listeners, by name).

import SystemCalls

public enum SecurityProtocol: String, Sendable, CaseIterable {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSsl = "SASL_SSL"

    public var usesTLS: Bool { self == .ssl || self == .saslSsl }
    public var usesSASL: Bool { self == .saslPlaintext || self == .saslSsl }
}

public struct Listener: Sendable, Equatable {
    /// Kafka's listener name ("PLAINTEXT", "INTERNAL"): per-listener keys use it lowercased
    /// (`listener.name.internal.ssl.keystore.location`).
    public var name: String
    public var address: SocketAddress
    public var securityProtocol: SecurityProtocol
    /// What Metadata tells the clients of this listener; nil: the address bound.
    public var advertisedHost: String?
    public var advertisedPort: Int32?

    public init(
        name: String, address: SocketAddress, securityProtocol: SecurityProtocol, advertisedHost: String? = nil,
        advertisedPort: Int32? = nil
    ) {
        self.name = name
        self.address = address
        self.securityProtocol = securityProtocol
        self.advertisedHost = advertisedHost
        self.advertisedPort = advertisedPort
    }

    public static func plaintext(_ address: SocketAddress) -> Listener {
        Listener(name: "PLAINTEXT", address: address, securityProtocol: .plaintext)
    }

    /// Kafka's default listener.security.protocol.map: each protocol maps to itself.
    public static let defaultProtocolMap = Dictionary(
        uniqueKeysWithValues: SecurityProtocol.allCases.map { ($0.rawValue, $0) })

    /// What Metadata gives this listener's clients once it is bound to `bound`: the advertised
    /// host and port, or the bound ones (a port of 0 resolved to the one the system chose,
    /// as Kafka does).
    func advertised(boundTo bound: SocketAddress) -> (host: String, port: Int32) {
        let port = advertisedPort.flatMap { $0 == 0 ? nil : $0 } ?? Int32(bound.port)
        return (advertisedHost ?? bound.host, port)
    }
}

public struct ListenerError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    init(_ message: String) { self.message = message }
}

extension Listener {
    /// Kafka's `listeners` value: `NAME://host:port` entries, comma separated; an empty host
    /// is every interface, and a bare `host:port` is PLAINTEXT. Names are unique, and a name
    /// that is not a protocol must be in `protocolMap`.
    public static func parse(listeners text: String, protocolMap: [String: SecurityProtocol]) throws(ListenerError) -> [Listener] {
        var listeners: [Listener] = []
        for entry in text.split(separator: ",").map({ String($0).trimmingBlanks }) where !entry.isEmpty {
            let (name, hostAndPort) = Self.split(entry)
            guard let securityProtocol = protocolMap[name] else {
                throw ListenerError(
                    "listeners: \(entry): the listener name \(name) is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) and listener.security.protocol.map does not map it"
                )
            }
            guard let address = SocketAddress(hostAndPort.hasPrefix(":") ? "0.0.0.0" + hostAndPort : hostAndPort) else {
                throw ListenerError("listeners: \(entry): \(hostAndPort) is not host:port (an IP address or localhost)")
            }
            guard !listeners.contains(where: { $0.name == name }) else {
                throw ListenerError("listeners: the listener name \(name) is given twice")
            }
            listeners.append(Listener(name: name, address: address, securityProtocol: securityProtocol))
        }
        guard !listeners.isEmpty else { throw ListenerError("listeners: no listener") }
        return listeners
    }

    /// Kafka's listener.security.protocol.map: `NAME:PROTOCOL` pairs, comma separated, on top
    /// of the default map.
    public static func parse(protocolMap text: String) throws(ListenerError) -> [String: SecurityProtocol] {
        var map = defaultProtocolMap
        for pair in text.split(separator: ",").map({ String($0).trimmingBlanks }) where !pair.isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1).map { String($0).trimmingBlanks }
            guard parts.count == 2, !parts[0].isEmpty, let securityProtocol = SecurityProtocol(rawValue: parts[1].uppercased()) else {
                throw ListenerError(
                    "listener.security.protocol.map: \(pair) is not NAME:PROTOCOL with a protocol of PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                )
            }
            map[parts[0].uppercased()] = securityProtocol
        }
        return map
    }

    /// Applies Kafka's advertised.listeners (`NAME://host:port`, or a bare `host:port` for the
    /// first listener) to `listeners`, by name.
    public static func advertise(_ text: String, on listeners: inout [Listener]) throws(ListenerError) {
        for entry in text.split(separator: ",").map({ String($0).trimmingBlanks }) where !entry.isEmpty {
            let named = entry.contains("://")
            let (name, hostAndPort) = Self.split(entry)
            guard let index = named ? listeners.firstIndex(where: { $0.name == name }) : listeners.indices.first else {
                throw ListenerError("advertised.listeners: \(entry): there is no listener named \(name) in listeners")
            }
            guard let colon = hostAndPort.lastIndex(of: ":"), let port = Int32(hostAndPort[hostAndPort.index(after: colon)...]),
                port >= 0, port <= 65_535
            else {
                throw ListenerError("advertised.listeners: \(entry): \(hostAndPort) is not host:port")
            }
            let host = String(hostAndPort[..<colon]).filter { $0 != "[" && $0 != "]" }
            if host == "0.0.0.0" || host == "::" {
                // Kafka refuses it too: a client cannot connect to "every interface".
                throw ListenerError("advertised.listeners: \(entry): \(host) cannot be advertised; give a host clients can reach")
            }
            listeners[index].advertisedHost = host.isEmpty ? nil : host
            listeners[index].advertisedPort = port
        }
    }

    /// "NAME://host:port" as (NAME uppercased, "host:port"); a bare address is PLAINTEXT's.
    private static func split(_ entry: String) -> (name: String, hostAndPort: String) {
        guard let separator = entry.firstRange(of: "://") else { return ("PLAINTEXT", entry) }
        return (String(entry[..<separator.lowerBound]).uppercased(), String(entry[separator.upperBound...]))
    }
}

extension String {
    var trimmingBlanks: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
