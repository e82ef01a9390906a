// Kafka's ssl.* keys for a TLS listener: the broker-wide ones with the listener's own
// (`listener.name.<name>.ssl.*`) on top, read into the reactor's TLSSettings.

import Reactor
import Security

public struct SSLKeys: Sendable {
    /// ssl.* as given, broker-wide.
    public var broker: [String: String] = [:]
    /// listener.name.<name>.ssl.*, by listener name (uppercased), keys without the prefix.
    public var listeners: [String: [String: String]] = [:]

    public init() {}

    /// The keys Swiftlet reads; the JKS passwords and client-side keys Kafka's stock files
    /// carry are accepted and ignored (PEM stores have no store password).
    public static let read: Set<String> = [
        "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.key.password",
        "ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.certificates", "ssl.client.auth",
        "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.principal.mapping.rules",
    ]
    public static let ignored: Set<String> = [
        "ssl.keystore.password", "ssl.truststore.password", "ssl.endpoint.identification.algorithm", "ssl.protocol",
        "ssl.secure.random.implementation", "ssl.keymanager.algorithm", "ssl.trustmanager.algorithm",
    ]

    public static func isKnown(_ key: String) -> Bool { read.contains(key) || ignored.contains(key) }

    /// The TLS settings of `listener`, or why they are wrong (naming the key).
    public func settings(for listener: Listener) throws(ListenerError) -> TLSSettings {
        let keys = broker.merging(listeners[listener.name] ?? [:]) { _, own in own }
        func value(_ key: String) -> String? { keys[key].flatMap { $0.isEmpty ? nil : $0 } }
        func list(_ key: String) -> [String]? {
            value(key).map { $0.split(separator: ",").map { String($0).trimmingBlanks }.filter { !$0.isEmpty } }
        }
        for typeKey in ["ssl.keystore.type", "ssl.truststore.type"] {
            if let type = value(typeKey), type.uppercased() != "PEM" {
                throw ListenerError("\(typeKey)=\(type) (listener \(listener.name)): only PEM stores are served; convert with openssl")
            }
        }
        var settings = TLSSettings()
        settings.keystoreLocation = value("ssl.keystore.location")
        settings.privateKey = value("ssl.keystore.key")
        settings.certificateChain = value("ssl.keystore.certificate.chain")
        settings.keyPassword = value("ssl.key.password")
        settings.truststoreLocation = value("ssl.truststore.location")
        settings.truststoreCertificates = value("ssl.truststore.certificates")
        if let text = value("ssl.client.auth") {
            guard let authentication = TLSSettings.ClientAuthentication(rawValue: text.lowercased()) else {
                throw ListenerError("ssl.client.auth=\(text) (listener \(listener.name)): none, requested or required")
            }
            settings.clientAuthentication = authentication
        }
        if let protocols = list("ssl.enabled.protocols") { settings.enabledProtocols = protocols }
        if let suites = list("ssl.cipher.suites") { settings.cipherSuites = suites }
        if settings.keystoreLocation == nil && (settings.privateKey == nil || settings.certificateChain == nil) {
            throw ListenerError(
                "ssl.keystore.location (or ssl.keystore.key and ssl.keystore.certificate.chain): listener \(listener.name) uses \(listener.securityProtocol.rawValue) and has no certificate"
            )
        }
        return settings
    }

    /// The listener's ssl.principal.mapping.rules (DEFAULT when unset), or why they are wrong.
    public func principalMapping(for listener: Listener) throws(ListenerError) -> PrincipalMappingRules {
        guard let text = listeners[listener.name]?["ssl.principal.mapping.rules"] ?? broker["ssl.principal.mapping.rules"],
            !text.isEmpty
        else { return .standard }
        do {
            return try PrincipalMappingRules(text)
        } catch {
            throw ListenerError("ssl.principal.mapping.rules (listener \(listener.name)): \(error.message)")
        }
    }
}
