// Kafka's server.properties keys that apply to Swiftlet, from a --config file or SWIFTLET_*
// environment variables, applied onto the broker configuration. An unknown key or a bad
// value is an error that names it.

import ArgumentParser
import Broker
import FoundationEssentials
import LogStorage
import SystemCalls

/// Bad settings exit with ArgumentParser's usage status (64) and a message naming them.
func settingError(_ description: String) -> ValidationError { ValidationError(description) }

enum ServerProperties {
    /// A .properties text read as java.util.Properties reads it: the key ends at the first
    /// unescaped `=`, `:` or blank (and one `=` or `:` after blanks is the separator still);
    /// `#` and `!` start comment lines; a line ending in an odd number of backslashes goes on
    /// on the next, whose leading blanks are dropped; `\t`, `\n`, `\r`, `\f`, `\uXXXX`
    /// and `\` before any other character are escapes. A key alone has the empty value.
    static func parse(_ text: String, source: String) throws -> [(key: String, value: String)] {
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        func isBlank(_ character: Character) -> Bool { character == " " || character == "\t" || character == "\u{0C}" }
        func continues(_ line: Substring) -> Bool { line.reversed().prefix { $0 == "\\" }.count % 2 == 1 }
        var result: [(String, String)] = []
        var index = 0
        while index < lines.count {
            let number = index + 1
            var line = lines[index].drop(while: isBlank)
            index += 1
            if line.isEmpty || line.first == "#" || line.first == "!" { continue }
            while continues(line) {
                line = line.dropLast()
                guard index < lines.count else { break }
                line = Substring(String(line) + lines[index].drop(while: isBlank))
                index += 1
            }
            // The key runs to the first unescaped separator.
            var keyEnd = line.startIndex
            var escaped = false
            while keyEnd < line.endIndex {
                let character = line[keyEnd]
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "=" || character == ":" || isBlank(character) {
                    break
                }
                keyEnd = line.index(after: keyEnd)
            }
            var rest = line[keyEnd...].drop(while: isBlank)
            if let first = rest.first, first == "=" || first == ":" {
                rest = rest.dropFirst().drop(while: isBlank)
            }
            let key = try unescape(line[..<keyEnd], source: source, line: number)
            result.append((key, try unescape(rest, source: source, line: number)))
        }
        return result
    }

    private static func unescape(_ text: Substring, source: String, line: Int) throws -> String {
        guard text.contains("\\") else { return String(text) }
        var output = ""
        var characters = text[...]
        while let character = characters.popFirst() {
            guard character == "\\", let escaped = characters.popFirst() else {
                if character != "\\" { output.append(character) }
                continue
            }
            switch escaped {
            case "t": output.append("\t")
            case "n": output.append("\n")
            case "r": output.append("\r")
            case "f": output.append("\u{0C}")
            case "u":
                let digits = characters.prefix(4)
                guard digits.count == 4, let code = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(code) else {
                    throw settingError("\(source):\(line): malformed \\uxxxx encoding")
                }
                output.unicodeScalars.append(scalar)
                characters = characters.dropFirst(4)
            default: output.append(escaped)
            }
        }
        return output
    }

    typealias Apply = @Sendable (inout BrokerConfiguration, String) -> Bool

    static func integer<T: FixedWidthInteger>(_ value: String, minimum: T) -> T? {
        guard let number = T(value), number >= minimum else { return nil }
        return number
    }

    /// Every key Swiftlet understands.
    static let keys: [String: Apply] = [
        "node.id": { configuration, value in set(&configuration.nodeId, integer(value, minimum: 0)) },
        "broker.id": { configuration, value in set(&configuration.nodeId, integer(value, minimum: 0)) },
        "cluster.id": { configuration, value in
            configuration.clusterId = value
            return !value.isEmpty
        },
        // Parsed together once every source is read (BrokerConfiguration.resolveListeners):
        // a listener's name may be mapped by a key that comes after it.
        "listeners": { configuration, value in
            configuration.listenerSettings.listeners = value
            return true
        },
        "listener.security.protocol.map": { configuration, value in
            configuration.listenerSettings.protocolMap = value
            return true
        },
        "advertised.listeners": { configuration, value in
            configuration.listenerSettings.advertised = value
            return true
        },
        // The HTTP listener (health and metrics), as Redpanda's admin API: host:port, or off.
        "http.listeners": { configuration, value in
            if value.lowercased() == "off" {
                configuration.httpListener = nil
                return true
            }
            guard let address = SocketAddress(value) else { return false }
            configuration.httpListener = address
            configuration.httpListenerRequired = true
            return true
        },
        "metadata.store": { configuration, value in
            guard value.isEmpty || value.hasPrefix("etcd://") else { return false }
            configuration.metadataStore = value.isEmpty ? nil : value
            return true
        },
        "metadata.store.prefix": { configuration, value in
            guard value.hasPrefix("/"), !value.hasSuffix("/") else { return false }
            configuration.metadataStorePrefix = value
            return true
        },
        "broker.session.timeout.ms": { configuration, value in
            set(&configuration.brokerSessionTimeoutMilliseconds, integer(value, minimum: 1_000))
        },
        "replica.lag.time.max.ms": { configuration, value in
            set(&configuration.replicaLagTimeMaximumMilliseconds, integer(value, minimum: 100))
        },
        "replica.fetch.wait.max.ms": { configuration, value in
            set(&configuration.replicaFetch.waitMaximumMilliseconds, integer(value, minimum: 0))
        },
        "replica.fetch.min.bytes": { configuration, value in set(&configuration.replicaFetch.minimumBytes, integer(value, minimum: 1)) },
        "replica.fetch.max.bytes": { configuration, value in set(&configuration.replicaFetch.maximumBytes, integer(value, minimum: 1)) },
        "replica.fetch.response.max.bytes": { configuration, value in
            set(&configuration.replicaFetch.responseMaximumBytes, integer(value, minimum: 1))
        },
        "unclean.leader.election.enable": { configuration, value in set(&configuration.uncleanLeaderElection, Bool(value.lowercased())) },
        "auto.leader.rebalance.enable": { configuration, value in set(&configuration.autoLeaderRebalance, Bool(value.lowercased())) },
        "leader.imbalance.check.interval.seconds": { configuration, value in
            set(
                &configuration.leaderImbalanceCheckIntervalMilliseconds,
                integer(value, minimum: 1).flatMap { $0 <= 86_400 ? $0 * 1_000 : nil })
        },
        "leader.imbalance.per.broker.percentage": { configuration, value in
            set(&configuration.leaderImbalancePerBrokerPercentage, integer(value, minimum: 0).flatMap { $0 <= 100 ? $0 : nil })
        },
        "metrics.enabled": { configuration, value in set(&configuration.metricsEnabled, Bool(value.lowercased())) },
        "http.console.read.only": { configuration, value in
            guard let flag = Bool(value.lowercased()) else { return false }
            configuration.consoleReadOnly = flag
            return true
        },
        "telemetry.enabled": { configuration, value in set(&configuration.telemetryEnabled, Bool(value.lowercased())) },
        // Kafka's client-metrics interval.ms range: 100 ms to an hour.
        "telemetry.push.interval.ms": { configuration, value in
            set(&configuration.telemetryPushIntervalMilliseconds, integer(value, minimum: 100).flatMap { $0 <= 3_600_000 ? $0 : nil })
        },
        "telemetry.max.bytes": { configuration, value in set(&configuration.telemetryMaximumBytes, integer(value, minimum: 1)) },
        // The KRaft controller's listeners: not served to clients (Swiftlet has no quorum).
        "controller.listener.names": { configuration, value in
            configuration.listenerSettings.controllerNames = Set(value.split(separator: ",").map { String($0).trimmed.uppercased() })
            return true
        },
        "authorizer.class.name": { configuration, value in
            // Kafka's KRaft authorizer, or the ZooKeeper-era one whose rules are the same.
            let known = ["", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer"]
            guard known.contains(value) else { return false }
            configuration.authorizerEnabled = !value.isEmpty
            return true
        },
        "super.users": { configuration, value in
            configuration.superUsers = Set(value.split(separator: ";").map { String($0).trimmed }.filter { !$0.isEmpty })
            return true
        },
        "allow.everyone.if.no.acl.found": { configuration, value in
            guard let flag = Bool(value.lowercased()) else { return false }
            configuration.allowEveryoneIfNoAclFound = flag
            return true
        },
        "sasl.enabled.mechanisms": { configuration, value in
            configuration.sasl.enabledMechanisms = mechanisms(value)
            return true
        },
        "sasl.jaas.config": { configuration, value in addPlainUsers(value, to: &configuration) },
        "inter.broker.listener.name": { configuration, value in
            configuration.interBrokerListenerName = value.uppercased()
            return !value.isEmpty
        },
        "security.inter.broker.protocol": { configuration, value in
            guard let security = SecurityProtocol(rawValue: value.uppercased()) else { return false }
            configuration.interBrokerSecurityProtocol = security
            return true
        },
        "sasl.mechanism.inter.broker.protocol": { configuration, value in
            configuration.sasl.interBrokerMechanism = value.uppercased()
            return !value.isEmpty
        },
        "log.dirs": { configuration, value in
            configuration.dataDirectory = value.split(separator: ",").first.map(String.init)
            return configuration.dataDirectory != nil
        },
        "log.dir": { configuration, value in
            configuration.dataDirectory = value
            return !value.isEmpty
        },
        "num.network.threads": { configuration, value in set(&configuration.eventLoops, integer(value, minimum: 1)) },
        "num.partitions": { configuration, value in set(&configuration.defaultPartitions, integer(value, minimum: 1)) },
        "auto.create.topics.enable": { configuration, value in set(&configuration.autoCreateTopics, Bool(value.lowercased())) },
        "default.replication.factor": { configuration, value in
            set(&configuration.defaultReplicationFactor, integer(value, minimum: Int16(1)))
        },
        "message.max.bytes": { configuration, value in set(&configuration.messageMaxBytes, integer(value, minimum: 0)) },
        "min.insync.replicas": { configuration, value in
            set(&configuration.logDefaults.minimumInSyncReplicas, integer(value, minimum: Int32(1)))
        },
        "log.retention.ms": { configuration, value in set(&configuration.logDefaults.retentionMilliseconds, integer(value, minimum: -1)) },
        "log.retention.minutes": { configuration, value in
            set(&configuration.logDefaults.retentionMilliseconds, integer(value, minimum: Int64(-1)).map { $0 < 0 ? -1 : $0 * 60_000 })
        },
        "log.retention.hours": { configuration, value in
            set(&configuration.logDefaults.retentionMilliseconds, integer(value, minimum: Int64(-1)).map { $0 < 0 ? -1 : $0 * 3_600_000 })
        },
        "log.retention.bytes": { configuration, value in set(&configuration.logDefaults.retentionBytes, integer(value, minimum: -1)) },
        "log.segment.bytes": { configuration, value in set(&configuration.logDefaults.segmentBytes, integer(value, minimum: 14)) },
        "log.roll.ms": { configuration, value in set(&configuration.logDefaults.segmentMilliseconds, integer(value, minimum: 1)) },
        "log.roll.hours": { configuration, value in
            set(&configuration.logDefaults.segmentMilliseconds, integer(value, minimum: Int64(1)).map { $0 * 3_600_000 })
        },
        "log.cleanup.policy": { configuration, value in set(&configuration.logDefaults.cleanupPolicy, CleanupPolicy(kafkaValue: value)) },
        "log.index.interval.bytes": { configuration, value in set(&configuration.logDefaults.indexIntervalBytes, integer(value, minimum: 0))
        },
        "log.cleaner.delete.retention.ms": { configuration, value in
            set(&configuration.logDefaults.deleteRetentionMilliseconds, integer(value, minimum: 0))
        },
        "log.cleaner.min.compaction.lag.ms": { configuration, value in
            set(&configuration.logDefaults.minimumCompactionLagMilliseconds, integer(value, minimum: 0))
        },
        "log.cleaner.max.compaction.lag.ms": { configuration, value in
            set(&configuration.logDefaults.maximumCompactionLagMilliseconds, integer(value, minimum: 1))
        },
        "log.cleaner.min.cleanable.ratio": { configuration, value in
            set(&configuration.logDefaults.minimumCleanableDirtyRatio, Double(value).flatMap { (0...1).contains($0) ? $0 : nil })
        },
        "log.message.timestamp.type": { configuration, value in
            set(&configuration.logDefaults.timestampPolicy, TimestampPolicy(rawValue: value))
        },
        "log.cleaner.backoff.ms": { configuration, value in set(&configuration.compactionCheckMilliseconds, integer(value, minimum: 0)) },
        "log.retention.check.interval.ms": { configuration, value in
            set(&configuration.retentionCheckMilliseconds, integer(value, minimum: 1))
        },
        "producer.id.expiration.ms": { configuration, value in
            set(&configuration.producerIdExpirationMilliseconds, integer(value, minimum: Int64(1)))
        },
        "producer.id.expiration.check.interval.ms": { configuration, value in
            set(&configuration.producerIdExpirationCheckIntervalMilliseconds, integer(value, minimum: 1))
        },
        "log.flush.interval.ms": { configuration, value in
            guard let interval = Int(value), interval >= 0 else { return false }
            configuration.flushPolicy = interval == 0 ? .everyAppend : .everyMilliseconds(interval)
            return true
        },
        "socket.request.max.bytes": { configuration, value in set(&configuration.socketRequestMaxBytes, integer(value, minimum: 1)) },
        "connections.max.reauth.ms": { configuration, value in
            set(&configuration.connectionsMaxReauthMilliseconds, integer(value, minimum: 0))
        },
        "queued.max.request.bytes": { configuration, value in
            guard let bytes = Int(value), bytes == -1 || bytes > 0 else { return false }
            configuration.queuedMaxRequestBytes = bytes
            return true
        },
        "connections.max.idle.ms": { configuration, value in set(&configuration.connectionsMaxIdleMilliseconds, integer(value, minimum: 1))
        },
        "group.min.session.timeout.ms": { configuration, value in
            set(&configuration.groups.minimumSessionTimeoutMilliseconds, integer(value, minimum: 1))
        },
        "group.max.session.timeout.ms": { configuration, value in
            set(&configuration.groups.maximumSessionTimeoutMilliseconds, integer(value, minimum: 1))
        },
        "group.initial.rebalance.delay.ms": { configuration, value in
            set(&configuration.groups.initialRebalanceDelayMilliseconds, integer(value, minimum: 0))
        },
        "group.max.size": { configuration, value in set(&configuration.groups.maximumGroupSize, integer(value, minimum: 1)) },
        "offset.metadata.max.bytes": { configuration, value in
            set(&configuration.groups.offsetMetadataMaximumBytes, integer(value, minimum: 0))
        },
        "offsets.retention.minutes": { configuration, value in
            set(&configuration.groups.offsetsRetentionMilliseconds, integer(value, minimum: Int64(1)).map { $0 * 60_000 })
        },
        "offsets.retention.check.interval.ms": { configuration, value in
            set(&configuration.groups.offsetsRetentionCheckIntervalMilliseconds, integer(value, minimum: 1))
        },
        "offsets.topic.num.partitions": { configuration, value in
            set(&configuration.groups.offsetsTopicPartitions, integer(value, minimum: 1))
        },
        "offsets.topic.replication.factor": { configuration, value in
            set(&configuration.offsetsTopicReplicationFactor, value == "-1" ? 3 : integer(value, minimum: Int16(1)))
        },
        "group.consumer.session.timeout.ms": { configuration, value in
            set(&configuration.groups.consumerSessionTimeoutMilliseconds, integer(value, minimum: 1))
        },
        "group.consumer.heartbeat.interval.ms": { configuration, value in
            set(&configuration.groups.consumerHeartbeatIntervalMilliseconds, integer(value, minimum: 1))
        },
        "group.consumer.max.size": { configuration, value in set(&configuration.groups.consumerMaximumGroupSize, integer(value, minimum: 1))
        },
        "transaction.max.timeout.ms": { configuration, value in
            set(&configuration.transactions.maximumTimeoutMilliseconds, integer(value, minimum: 1))
        },
        "transactions.remove.expired.transaction.cleanup.interval.ms": { configuration, value in
            set(&configuration.transactions.transactionalIdExpirationCheckIntervalMilliseconds, integer(value, minimum: Int64(1)))
        },
        "transactional.id.expiration.ms": { configuration, value in
            set(&configuration.transactions.transactionalIdExpirationMilliseconds, integer(value, minimum: 1))
        },
        "transaction.state.log.num.partitions": { configuration, value in
            set(&configuration.transactions.stateTopicPartitions, integer(value, minimum: 1))
        },
        "transaction.state.log.min.isr": { configuration, value in
            set(&configuration.transactionStateMinimumInSyncReplicas, integer(value, minimum: Int32(1)))
        },
        "transaction.state.log.replication.factor": { configuration, value in
            set(&configuration.transactionStateReplicationFactor, value == "-1" ? 3 : integer(value, minimum: Int16(1)))
        },
        "group.consumer.assignors": { configuration, value in
            let names = value.split(separator: ",").map { String($0).trimmed }
            guard !names.isEmpty, names.allSatisfy({ ["uniform", "range"].contains($0) }) else { return false }
            configuration.groups.consumerAssignors = names
            return true
        },
    ]

    private static func set<T>(_ target: inout T, _ value: T?) -> Bool {
        guard let value else { return false }
        target = value
        return true
    }

    private static func set<T>(_ target: inout T?, _ value: T?) -> Bool {
        guard let value else { return false }
        target = value
        return true
    }

    enum Outcome: Equatable {
        case applied
        /// One of Kafka's keys that has no meaning here (KafkaKeys.notApplicable).
        case notApplicable
        case unknown
    }

    /// Applies one setting; a bad value throws, naming the key and where it came from.
    static func apply(_ key: String, _ value: String, to configuration: inout BrokerConfiguration, source: String) throws -> Outcome {
        // Kafka's ConfigDef trims values before reading them.
        let value = value.trimmed
        if key.hasPrefix("listener.name.") {
            return try applyListenerKey(key, value, to: &configuration, source: source)
        }
        if SSLKeys.isKnown(key) {
            configuration.ssl.broker[key] = value
            return .applied
        }
        guard let apply = keys[key] else { return KafkaKeys.notApplicable.contains(key) ? .notApplicable : .unknown }
        guard apply(&configuration, value) else { throw settingError("\(source): invalid value for \(key): \"\(value)\"") }
        return .applied
    }

    /// Every key a file or variable may name: Swiftlet's, the TLS ones, and Kafka's ignored ones.
    static var allKnownKeys: [String] { Array(keys.keys) + Array(SSLKeys.read) + Array(SSLKeys.ignored) + Array(KafkaKeys.notApplicable) }

    /// "PLAIN, SCRAM-SHA-256" as a list.
    static func mechanisms(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmed.uppercased() }.filter { !$0.isEmpty }
    }

    /// The users of a PlainLoginModule JAAS line; other login modules add none.
    /// A JAAS configuration's server side (PLAIN's users) and client side (the `username` and
    /// `password` a broker signs in to another with), kept under `credentialKey`.
    static func addPlainUsers(_ value: String, to configuration: inout BrokerConfiguration, credentialKey: String = "") -> Bool {
        guard let users = SaslSettings.plainUsers(jaas: value) else { return false }
        configuration.sasl.plainUsers.merge(users) { _, new in new }
        if let credential = SaslSettings.clientCredential(jaas: value) { configuration.sasl.clientCredentials[credentialKey] = credential }
        return true
    }

    /// Kafka's per-listener keys, `listener.name.<name>.<key>`: the SASL mechanisms a
    /// listener enables and its mechanisms' JAAS configurations.
    static func applyListenerKey(_ key: String, _ value: String, to configuration: inout BrokerConfiguration, source: String) throws
        -> Outcome
    {
        let rest = key.dropFirst("listener.name.".count)
        guard let dot = rest.firstIndex(of: ".") else { return .unknown }
        let listener = rest[..<dot].uppercased()
        let setting = String(rest[rest.index(after: dot)...])
        if SSLKeys.isKnown(setting) {
            configuration.ssl.listeners[listener, default: [:]][setting] = value
        } else if setting == "sasl.enabled.mechanisms" {
            configuration.sasl.listenerMechanisms[listener] = mechanisms(value)
        } else if setting.hasSuffix(".sasl.jaas.config") {
            let mechanism = setting.dropLast(".sasl.jaas.config".count).uppercased()
            guard addPlainUsers(value, to: &configuration, credentialKey: listener + "/" + mechanism) else {
                throw settingError("\(source): invalid value for \(key): \"\(value)\"")
            }
        } else {
            return KafkaKeys.isNotApplicableListenerSetting(setting) ? .notApplicable : .unknown
        }
        return .applied
    }
}
