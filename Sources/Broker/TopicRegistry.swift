// Topics of the cluster: names, ids, partition counts and config overrides, persisted as
// one JSON file in the data directory (replaced whole: written aside, synced, renamed, the
// previous version kept beside it to start from when the file is damaged).

import Coordinators
import FoundationEssentials
import KafkaWire
import LogStorage
import Synchronization
import SystemCalls

public struct TopicInfo: Sendable, Codable, Equatable {
    public var name: String
    public var id: String
    public var partitions: Int32
    /// Topic-level overrides as Kafka names them ("retention.ms": "1000").
    public var configs: [String: String]

    public var topicId: Uuid { Uuid(id) ?? .zero }

    /// Kafka's internal topics, written by the coordinators only; a user topic named "__x"
    /// is not one.
    public static let internalNames: Set<String> = [OffsetsTopic.name, TransactionCoordinator.stateTopic]

    public var isInternal: Bool { Self.internalNames.contains(name) }
}

public enum TopicNameError: Error, Equatable {
    case empty, tooLong, illegalCharacters, dotOnly
}

public final class TopicRegistry: Sendable {
    private let path: String?
    /// Topics by name, and names by topic id (Fetch v13+ and Produce v13 resolve ids on
    /// every request).
    private typealias Table = (byName: [String: TopicInfo], nameById: [Uuid: String])
    private let topics: Mutex<Table>
    private let writeLock = Lock()

    /// What loading had to repair, to be logged as a warning: nil when topics.json was sound.
    public let recoveryWarning: String?

    /// Loads topics.json. A damaged file is set aside (`.damaged`) and the topics come from
    /// the previous version, or, without a sound one, from the partition directories under
    /// `logDirectory` (names and partition counts; ids are new and configs are lost).
    public init(dataDirectory: String?, logDirectory: String? = nil) throws {
        let path = dataDirectory.map { $0 + "/topics.json" }
        self.path = path
        var loaded: [TopicInfo] = []
        var warning: String?
        if let path {
            switch Self.load(path) {
            case .success(let topics?):
                loaded = topics
            case .success(nil):
                // A crash between the two renames of a write leaves only the previous version.
                loaded = (try? Self.load(path + Self.previousSuffix).get()).flatMap { $0 } ?? []
            case .failure(let error):
                try? System.rename(path, to: path + ".damaged")
                // The previous version misses the last change: topics it does not know, or
                // partitions past its counts, are taken from the directories, so that nothing
                // on disk is swept as unregistered.
                let previous = (try? Self.load(path + Self.previousSuffix).get()).flatMap { $0 } ?? []
                var merged = Dictionary(previous.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                let found = Self.topics(inLogDirectory: logDirectory)
                for topic in found {
                    if merged[topic.name] == nil { merged[topic.name] = topic }
                    merged[topic.name]!.partitions = max(merged[topic.name]!.partitions, topic.partitions)
                }
                loaded = Array(merged.values)
                let rebuilt = found.filter { topic in !previous.contains { $0.name == topic.name } }.map(\.name).sorted()
                warning =
                    "\(path) is damaged (\(error)); set aside as topics.json.damaged. \(previous.count) topic(s) from the previous version"
                    + (rebuilt.isEmpty
                        ? ""
                        : ", \(rebuilt.count) rebuilt from their partition directories with default configs and new topic ids: \(rebuilt.joined(separator: ", "))")
                try Self.persist(loaded, to: path)
            }
        }
        recoveryWarning = warning
        let byName = Dictionary(loaded.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        topics = Mutex((byName, Dictionary(byName.values.map { ($0.topicId, $0.name) }, uniquingKeysWith: { first, _ in first })))
    }

    static let previousSuffix = ".previous"

    /// The topics of a registry file: nil when there is no file, an error when it does not read.
    private static func load(_ path: String) -> Result<[TopicInfo]?, any Error> {
        Result {
            guard let bytes = try System.readFileIfPresent(path) else { return nil }
            return try JSONDecoder().decode([TopicInfo].self, from: Data(bytes))
        }
    }

    /// Topics as the partition directories show them.
    private static func topics(inLogDirectory directory: String?) -> [TopicInfo] {
        guard let directory, let names = try? System.directoryEntries(directory) else { return [] }
        var partitions: [String: Int32] = [:]
        for name in names {
            guard let partition = TopicPartition(directoryName: name), validate(partition.topic) == nil else { continue }
            partitions[partition.topic] = max(partitions[partition.topic] ?? 0, partition.partition + 1)
        }
        return partitions.map { name, count in
            TopicInfo(
                name: name, id: Uuid.random().description, partitions: count,
                configs: TopicInfo.internalNames.contains(name) ? ["cleanup.policy": "compact"] : [:])
        }
    }

    /// Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
    public static func validate(_ name: String) -> TopicNameError? {
        if name.isEmpty { return .empty }
        if name == "." || name == ".." { return .dotOnly }
        if name.utf8.count > 249 { return .tooLong }
        let legal = name.utf8.allSatisfy { byte in
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 46 || byte == 95
                || byte == 45
        }
        return legal ? nil : .illegalCharacters
    }

    public func topic(named name: String) -> TopicInfo? { topics.withLock { $0.byName[name] } }

    public func topic(id: Uuid) -> TopicInfo? {
        topics.withLock { table in table.nameById[id].flatMap { table.byName[$0] } }
    }

    /// The topic a request names: by id in the versions that key topics by id, else by name.
    public func topic(named name: String?, id: Uuid, byId: Bool) -> TopicInfo? {
        byId ? topic(id: id) : name.flatMap { topic(named: $0) }
    }

    public var all: [TopicInfo] { topics.withLock { $0.byName.values.sorted { $0.name < $1.name } } }

    /// Adds a topic; false when the name is taken. When the file cannot be written the
    /// topic is not added.
    public func add(_ topic: TopicInfo) throws -> Bool {
        try !add([topic]).isEmpty
    }

    /// Adds the topics whose names are free, with one write of the file, and returns their
    /// names; when the file cannot be written none is added.
    public func add(_ newTopics: [TopicInfo]) throws -> Set<String> {
        var added = Set<String>()
        _ = try mutate { table in
            added = []
            for topic in newTopics where table.byName[topic.name] == nil {
                table.byName[topic.name] = topic
                table.nameById[topic.topicId] = topic.name
                added.insert(topic.name)
            }
            return !added.isEmpty
        }
        return added
    }

    public func remove(_ name: String) throws {
        try remove([name])
    }

    /// Removes the topics named, with one write of the file.
    public func remove(_ names: [String]) throws {
        _ = try mutate { table in
            var removedAny = false
            for name in names {
                guard let removed = table.byName.removeValue(forKey: name) else { continue }
                table.nameById.removeValue(forKey: removed.topicId)
                removedAny = true
            }
            return removedAny
        }
    }

    /// Applies `change` to the topic's current state, atomically with every other change:
    /// nothing written when it returns false; nil when the topic does not exist.
    public func update(named name: String, _ change: (inout TopicInfo) -> Bool) throws -> TopicInfo? {
        var result: TopicInfo?
        _ = try mutate { table in
            guard var topic = table.byName[name] else { return false }
            result = topic
            guard change(&topic) else { return false }
            table.byName[name] = topic
            result = topic
            return true
        }
        return result
    }

    /// One change at a time, each with its file write (so topics.json follows their order
    /// and two threads never share its temporary file); undone when the write fails.
    private func mutate(_ change: (inout Table) -> Bool) throws -> Bool {
        writeLock.lock()
        defer { writeLock.unlock() }
        let (before, snapshot) = topics.withLock { table -> (Table, [TopicInfo]?) in
            let before = table
            return (before, change(&table) ? Array(table.byName.values) : nil)
        }
        guard let snapshot else { return false }
        do {
            try persist(snapshot)
        } catch {
            topics.withLock { $0 = before }
            throw error
        }
        return true
    }

    private func persist(_ snapshot: [TopicInfo]) throws {
        guard let path else { return }
        try Self.persist(snapshot, to: path)
    }

    private static func persist(_ snapshot: [TopicInfo], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try System.replaceFile(
            path, with: Array(try encoder.encode(snapshot.sorted { $0.name < $1.name })), keepingPreviousAt: path + previousSuffix)
    }
}
