// Where settings come from, lowest precedence first: a server.properties file, then KAFKA_*
// variables (named as the apache/kafka image names them), then SWIFTLET_* variables, then
// flags. Kafka's keys that do not apply here are gathered for one warning; keys nobody knows
// fail all at once, each with the closest known key, when a file names them, and are ignored
// with a warning when a variable does (an environment carries unrelated variables).

import ArgumentParser
import Broker

struct SettingSources {
    /// Kafka keys accepted and ignored, in the order met.
    private(set) var notApplicable: [String] = []
    /// Unknown keys from files: the start fails, listing them.
    private(set) var unknownInFiles: [String] = []
    /// Unknown keys from variables: one warning.
    private(set) var unknownVariables: [String] = []

    /// The SWIFTLET_* variables that stand for flags rather than keys.
    static let flagVariables: Set<String> = [
        "SWIFTLET_LISTEN", "SWIFTLET_ADVERTISED_LISTENER", "SWIFTLET_DATA_DIR", "SWIFTLET_MEMORY", "SWIFTLET_REACTORS",
        "SWIFTLET_NODE_ID", "SWIFTLET_CLUSTER_ID", "SWIFTLET_LOG_LEVEL", "SWIFTLET_LOG_FORMAT", "SWIFTLET_CONFIG", "SWIFTLET_HTTP_LISTEN",
        "SWIFTLET_METADATA_STORE",
        "SWIFTLET_KAFKA_DEFAULTS", "SWIFTLET_READY_FILE", "SWIFTLET_USERS", "SWIFTLET_TOPICS",
    ]

    /// The apache/kafka image's own variables, which are not broker settings.
    static let kafkaImageVariables: Set<String> = [
        "KAFKA_HOME", "KAFKA_VERSION", "KAFKA_OPTS", "KAFKA_HEAP_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_OPTS", "KAFKA_JMX_OPTS", "KAFKA_JMX_PORT", "KAFKA_JMX_HOSTNAME", "KAFKA_LOG4J_LOGGERS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_DEBUG",
    ]

    /// KAFKA_LOG_DIRS is log.dirs: `_` is a dot, `__` a dash and `___` an underscore, as the
    /// apache/kafka image maps its environment.
    static func kafkaKey(forVariable name: String) -> String {
        String(name.dropFirst("KAFKA_".count)).lowercased()
            .replacing("___", with: "\u{1}").replacing("__", with: "-").replacing("_", with: ".").replacing("\u{1}", with: "_")
    }

    /// SWIFTLET_NUM_PARTITIONS is num.partitions.
    static func swiftletKey(forVariable name: String) -> String {
        String(name.dropFirst("SWIFTLET_".count)).lowercased().replacing("_", with: ".")
    }

    /// Applies a file's settings.
    mutating func apply(file pairs: [(key: String, value: String)], path: String, to configuration: inout BrokerConfiguration) throws {
        for (key, value) in pairs {
            switch try ServerProperties.apply(key, value, to: &configuration, source: path) {
            case .applied: break
            case .notApplicable: notApplicable.append(key)
            case .unknown:
                let hint = KafkaKeys.suggestion(for: key, among: ServerProperties.allKnownKeys).map { " (did you mean \($0)?)" } ?? ""
                unknownInFiles.append("\(key)\(hint)")
            }
        }
    }

    /// Applies KAFKA_* variables, then SWIFTLET_* ones (which win), in name order.
    mutating func apply(environment: [String: String], to configuration: inout BrokerConfiguration) throws {
        let names = environment.keys.sorted()
        var variables: [(name: String, key: String)] = []
        if let clusterId = environment["CLUSTER_ID"], !clusterId.isEmpty {
            // The apache/kafka image formats its storage with CLUSTER_ID.
            configuration.clusterId = clusterId
        }
        for name in names where name.hasPrefix("KAFKA_") && !Self.kafkaImageVariables.contains(name) {
            variables.append((name, Self.kafkaKey(forVariable: name)))
        }
        for name in names where name.hasPrefix("SWIFTLET_") && !Self.flagVariables.contains(name) {
            variables.append((name, Self.swiftletKey(forVariable: name)))
        }
        for (name, key) in variables {
            switch try ServerProperties.apply(key, environment[name]!, to: &configuration, source: name) {
            case .applied: break
            case .notApplicable: notApplicable.append(key)
            case .unknown: unknownVariables.append(name)
            }
        }
    }

    /// Fails on unknown keys from files, naming them all.
    func check() throws {
        guard !unknownInFiles.isEmpty else { return }
        throw ValidationError("unknown settings: \(unknownInFiles.joined(separator: ", "))")
    }

    /// The warnings to log once the log is up.
    var warnings: [String] {
        var warnings: [String] = []
        if !notApplicable.isEmpty {
            warnings.append("these Kafka settings do not apply to Swiftlet and are ignored: \(notApplicable.joined(separator: ", "))")
        }
        if !unknownVariables.isEmpty {
            warnings.append("these variables name no setting and are ignored: \(unknownVariables.joined(separator: ", "))")
        }
        return warnings
    }

    /// A boolean variable standing for a flag, checked as the flag would be.
    static func flag(_ name: String, in environment: [String: String]) throws -> Bool {
        guard let value = environment[name] else { return false }
        switch value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off", "": return false
        default: throw ValidationError("\(name)=\(value): expected true or false")
        }
    }

    /// An integer variable standing for a flag, at least `minimum`.
    static func integer<T: FixedWidthInteger>(_ name: String, in environment: [String: String], minimum: T) throws -> T? {
        guard let value = environment[name] else { return nil }
        guard let number = T(value.trimmed), number >= minimum else {
            throw ValidationError("\(name)=\(value): expected a whole number of at least \(minimum)")
        }
        return number
    }
}
