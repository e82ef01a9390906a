// SCRAM credentials as AlterUserScramCredentials records them and DescribeUserScramCredentials
// lists them: each user's mechanisms and iteration counts, in one JSON file in the data
// directory (replaced whole: written aside, synced, renamed). Swiftlet has no SASL, so nothing
// authenticates with them, and the salted passwords are not kept.

import FoundationEssentials
import Synchronization
import SystemCalls

/// Kafka's ScramMechanism types (KIP-554).
enum ScramMechanism: Int8 {
    case sha256 = 1
    case sha512 = 2

    /// Kafka's minimum for both mechanisms, and its maximum.
    static let minimumIterations: Int32 = 4_096
    static let maximumIterations: Int32 = 16_384
}

final class ScramCredentialStore: Sendable {
    private struct Entry: Codable {
        var user: String
        var mechanism: Int8
        var iterations: Int32
    }

    /// Iterations by mechanism, by user.
    typealias Credentials = [String: [Int8: Int32]]

    private let path: String?
    private let credentials: Mutex<Credentials>
    /// Held across a change and its file write, so two changes never interleave.
    private let writeLock = Lock()

    init(dataDirectory: String?) throws {
        path = dataDirectory.map { $0 + "/scram-credentials.json" }
        var loaded: Credentials = [:]
        if let path, let bytes = try System.readFileIfPresent(path) {
            for entry in try JSONDecoder().decode([Entry].self, from: Data(bytes)) {
                loaded[entry.user, default: [:]][entry.mechanism] = entry.iterations
            }
        }
        credentials = Mutex(loaded)
    }

    var all: Credentials { credentials.withLock { $0 } }

    /// Applies one change, worked out by `change` from the credentials as they are (nil: no
    /// change). Changes run one at a time, each checked against the state the one before left,
    /// as Kafka's controller works through requests; a change is kept only once it is on disk.
    func update<Result>(_ change: (Credentials) -> (Credentials?, Result)) throws -> Result {
        writeLock.lock()
        defer { writeLock.unlock() }
        let (next, result) = change(all)
        if let next {
            try persist(next)
            credentials.withLock { $0 = next }
        }
        return result
    }

    private func persist(_ snapshot: Credentials) throws {
        guard let path else { return }
        let entries = snapshot.flatMap { user, mechanisms in mechanisms.map { Entry(user: user, mechanism: $0.key, iterations: $0.value) } }
            .sorted { ($0.user, $0.mechanism) < ($1.user, $1.mechanism) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try System.replaceFile(path, with: Array(try encoder.encode(entries)))
    }
}
