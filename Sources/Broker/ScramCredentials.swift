// SCRAM credentials as AlterUserScramCredentials records them and DescribeUserScramCredentials
// lists them: each user's mechanisms and iteration counts, in one JSON file in the data
// directory (written aside, then renamed). Swiftlet has no SASL, so nothing authenticates
// with them, and the salted passwords are not kept.

import FoundationEssentials
import Synchronization
import SystemCalls

/// Kafka's ScramMechanism types (KIP-554).
enum ScramMechanism: Int8, CaseIterable {
    case sha256 = 1, sha512 = 2

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
        if let path, let data = FileManager.default.contents(atPath: path) {
            for entry in try JSONDecoder().decode([Entry].self, from: data) { loaded[entry.user, default: [:]][entry.mechanism] = entry.iterations }
        }
        credentials = Mutex(loaded)
    }

    var all: Credentials { credentials.withLock { $0 } }

    /// Removes and sets credentials as one change, kept only once it is on disk.
    func apply(deletions: [(user: String, mechanism: Int8)], upsertions: [(user: String, mechanism: Int8, iterations: Int32)]) throws {
        writeLock.lock(); defer { writeLock.unlock() }
        var next = all
        for deletion in deletions {
            next[deletion.user]?[deletion.mechanism] = nil
            if next[deletion.user]?.isEmpty == true { next[deletion.user] = nil }
        }
        for upsertion in upsertions { next[upsertion.user, default: [:]][upsertion.mechanism] = upsertion.iterations }
        try persist(next)
        credentials.withLock { $0 = next }
    }

    private func persist(_ snapshot: Credentials) throws {
        guard let path else { return }
        let entries = snapshot.flatMap { user, mechanisms in mechanisms.map { Entry(user: user, mechanism: $0.key, iterations: $0.value) } }
            .sorted { ($0.user, $0.mechanism) < ($1.user, $1.mechanism) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = path + ".tmp"
        try encoder.encode(entries).write(to: URL(fileURLWithPath: temporary))
        try System.rename(temporary, to: path)
    }
}
