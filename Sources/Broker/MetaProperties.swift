// meta.properties: which cluster and node a data directory belongs to. Written on the first
// start, checked on every later one with Kafka's rules and messages (MetaPropertiesEnsemble):
// a data directory of another cluster or node, or a file that does not read, is refused.

struct MetaProperties: Equatable {
    var clusterId: String
    var nodeId: Int32

    static let fileName = "meta.properties"

    /// The file as Kafka 4.x writes it (version 1: KRaft, node id required).
    var text: String { "version=1\ncluster.id=\(clusterId)\nnode.id=\(nodeId)\n" }

    /// Reads the file's text: `key=value` or `key: value` lines, `#` and `!` comments, blanks
    /// around keys and values. Returns why it does not read as a meta.properties of version 0
    /// or 1 with a cluster id and a node id.
    static func parse(_ text: String) -> Result<MetaProperties, MetaPropertiesError> {
        var values: [String: String] = [:]
        let blanks: Set<Character> = [" ", "\t", "\u{0C}"]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { blanks.contains($0) }
            if trimmed.isEmpty || trimmed.first == "#" || trimmed.first == "!" { continue }
            guard let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                return .failure(.unreadable("a line without '=': \(trimmed)"))
            }
            let key = trimmed[..<separator].reversed().drop { blanks.contains($0) }.reversed()
            let value = trimmed[trimmed.index(after: separator)...].drop { blanks.contains($0) }
            values[String(key)] = String(value.reversed().drop { blanks.contains($0) }.reversed())
        }
        guard let version = values["version"] else { return .failure(.unreadable("no version")) }
        guard version == "0" || version == "1" else { return .failure(.unreadable("unknown version \(version)")) }
        guard let clusterId = values["cluster.id"], !clusterId.isEmpty else { return .failure(.unreadable("no cluster.id")) }
        guard let node = values["node.id"] ?? values["broker.id"] else { return .failure(.noNodeId) }
        guard let nodeId = Int32(node) else { return .failure(.unreadable("node.id \(node) is not a number")) }
        return .success(MetaProperties(clusterId: clusterId, nodeId: nodeId))
    }

    /// Kafka's MetaPropertiesEnsemble.verify of a stored file against this start's settings.
    func verify(clusterId configured: String?, nodeId configuredNode: Int32) -> MetaPropertiesError? {
        if let configured, configured != clusterId { return .clusterIdMismatch(expected: configured, read: clusterId) }
        if nodeId != configuredNode { return .nodeIdMismatch(stored: nodeId, configured: configuredNode) }
        return nil
    }
}

enum MetaPropertiesError: Error, Equatable {
    case unreadable(String)
    case noNodeId
    case clusterIdMismatch(expected: String, read: String)
    case nodeIdMismatch(stored: Int32, configured: Int32)

    /// Kafka's message, naming the file.
    func message(path: String) -> String {
        switch self {
        case .unreadable(let reason):
            return "No readable meta.properties files found: \(path) (\(reason))."
        case .noNodeId:
            return "node.id was not specified in \(path)"
        case .clusterIdMismatch(let expected, let read):
            return "Invalid cluster.id in: \(path). Expected \(expected), but read \(read)"
        case .nodeIdMismatch(let stored, let configured):
            return "Stored node id \(stored) doesn't match previous node id \(configured) in \(path)."
                + " If you moved your data, make sure your configured node id matches."
                + " If you intend to create a new node, you should remove all data in your data directories."
        }
    }
}
