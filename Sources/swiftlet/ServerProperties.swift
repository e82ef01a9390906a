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
    /// key=value lines; '#' and '!' start comments, and a line ending in a backslash goes on
    /// on the next one (as java.util.Properties reads them; Kafka's JAAS examples use it).
    static func parse(_ text: String, source: String) throws -> [(key: String, value: String)] {
        var result: [(String, String)] = []
        var logical: [(number: Int, line: String)] = []
        var continuing = false
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmed
            let isComment = !continuing && (line.hasPrefix("#") || line.hasPrefix("!"))
            let trailingBackslashes = line.reversed().prefix { $0 == "\\" }.count
            let continues = !isComment && trailingBackslashes % 2 == 1
            if continues { line = String(line.dropLast()) }
            if continuing, let last = logical.popLast() {
                logical.append((last.number, last.line + line))
            } else {
                logical.append((number, line))
            }
            continuing = continues
        }
        for (number, line) in logical {
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw settingError("\(source):\(number + 1): expected key=value, found \"\(line)\"")
            }
            result.append(
                (
                    line[..<equals].trimmed,
                    line[line.index(after: equals)...].trimmed
                ))
        }
        return result
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
        "default.replication.factor": { _, value in value == "1" || value == "-1" },
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
        "offsets.topic.replication.factor": { _, value in value == "1" || value == "-1" },
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
        "transaction.state.log.replication.factor": { _, value in value == "1" || value == "-1" },
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

    static func apply(_ key: String, _ value: String, to configuration: inout BrokerConfiguration, source: String) throws {
        if key.hasPrefix("listener.name.") {
            return try applyListenerKey(key, value, to: &configuration, source: source)
        }
        if SSLKeys.isKnown(key) {
            configuration.ssl.broker[key] = value
            return
        }
        guard let apply = keys[key] else { throw settingError("\(source): unknown setting \(key)") }
        guard apply(&configuration, value) else { throw settingError("\(source): invalid value for \(key): \"\(value)\"") }
    }

    /// "PLAIN, SCRAM-SHA-256" as a list.
    static func mechanisms(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmed.uppercased() }.filter { !$0.isEmpty }
    }

    /// The users of a PlainLoginModule JAAS line; other login modules add none.
    static func addPlainUsers(_ value: String, to configuration: inout BrokerConfiguration) -> Bool {
        guard let users = SaslSettings.plainUsers(jaas: value) else { return false }
        configuration.sasl.plainUsers.merge(users) { _, new in new }
        return true
    }

    /// Kafka's per-listener keys, `listener.name.<name>.<key>`: the SASL mechanisms a
    /// listener enables and its mechanisms' JAAS configurations.
    static func applyListenerKey(_ key: String, _ value: String, to configuration: inout BrokerConfiguration, source: String) throws {
        let rest = key.dropFirst("listener.name.".count)
        guard let dot = rest.firstIndex(of: ".") else { throw settingError("\(source): unknown setting \(key)") }
        let listener = rest[..<dot].uppercased()
        let setting = String(rest[rest.index(after: dot)...])
        if SSLKeys.isKnown(setting) {
            configuration.ssl.listeners[listener, default: [:]][setting] = value
        } else if setting == "sasl.enabled.mechanisms" {
            configuration.sasl.listenerMechanisms[listener] = mechanisms(value)
        } else if setting.hasSuffix(".sasl.jaas.config") {
            guard addPlainUsers(value, to: &configuration) else { throw settingError("\(source): invalid value for \(key): \"\(value)\"") }
        } else {
            throw settingError("\(source): unknown setting \(key)")
        }
    }
}
