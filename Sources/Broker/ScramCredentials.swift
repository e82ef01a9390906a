// SCRAM credentials as AlterUserScramCredentials records them and DescribeUserScramCredentials
// lists them, and as SCRAM authentication checks them: per user and mechanism the salt, the
// iteration count, StoredKey and ServerKey (never a password), in one JSON document (a file of
// the data directory, or the cluster's: SharedDocument).

import FoundationEssentials
import Security
import Synchronization
import SystemCalls

final class ScramCredentialStore: Sendable {
    private struct Entry: Codable {
        var user: String
        var mechanism: Int8
        var iterations: Int32
        /// Base64; absent in files written before SCRAM authentication was served (such a
        /// credential is listed but authenticates no one until it is set again).
        var salt: String?
        var storedKey: String?
        var serverKey: String?
    }

    /// Credentials by mechanism type (Kafka's 1 and 2), by user.
    typealias Credentials = [String: [Int8: ScramCredential]]

    let document: SharedDocument
    private let credentials: Mutex<Credentials>
    /// Held across a change and its write, so two changes never interleave.
    private let writeLock = Lock()

    convenience init(dataDirectory: String?) throws {
        try self.init(document: SharedDocument(dataDirectory.map { .file(path: $0 + "/" + Self.fileName) } ?? .memory))
    }

    init(document: SharedDocument) throws {
        self.document = document
        credentials = Mutex(try Self.decode(document.bytes))
    }

    static let fileName = "scram-credentials.json"

    private static func decode(_ bytes: [UInt8]?) throws -> Credentials {
        var loaded: Credentials = [:]
        for entry in try bytes.map({ try JSONDecoder().decode([Entry].self, from: Data($0)) }) ?? [] {
            loaded[entry.user, default: [:]][entry.mechanism] = ScramCredential(
                salt: entry.salt.flatMap(Base64.decode) ?? [], iterations: Int(entry.iterations),
                storedKey: entry.storedKey.flatMap(Base64.decode) ?? [], serverKey: entry.serverKey.flatMap(Base64.decode) ?? [])
        }
        return loaded
    }

    /// Reads the document again: another broker of the cluster changed it.
    func reload() throws {
        try writeLock.withLock {
            let loaded = try Self.decode(document.reread())
            credentials.withLock { $0 = loaded }
        }
    }

    var all: Credentials { credentials.withLock { $0 } }

    /// The credential SCRAM authentication checks `user` against.
    func credential(user: String, mechanism: ScramMechanism) -> ScramCredential? {
        credentials.withLock { $0[user]?[mechanism.kafkaType] }.flatMap { $0.storedKey.isEmpty ? nil : $0 }
    }

    /// Applies one change, worked out by `change` from the credentials as they are (nil: no
    /// change). Changes run one at a time, each checked against the state the one before left,
    /// as Kafka's controller works through requests; a change is kept only once it is on disk.
    func update<Result>(_ change: (Credentials) -> (Credentials?, Result)) throws -> Result {
        try writeLock.withLock {
            var outcome: (next: Credentials?, result: Result)?
            _ = try document.update { bytes in
                outcome = change(try Self.decode(bytes))
                return try outcome?.next.map(Self.encode)
            }
            guard let outcome else { throw BrokerError.metadataUnavailable("SCRAM credentials: not read") }
            if let next = outcome.next { credentials.withLock { $0 = next } }
            return outcome.result
        }
    }

    private static func encode(_ snapshot: Credentials) throws -> [UInt8] {
        let entries = snapshot.flatMap { user, mechanisms in
            mechanisms.map { mechanism, credential in
                Entry(
                    user: user, mechanism: mechanism, iterations: Int32(credential.iterations), salt: Base64.encode(credential.salt),
                    storedKey: Base64.encode(credential.storedKey), serverKey: Base64.encode(credential.serverKey))
            }
        }
        .sorted { ($0.user, $0.mechanism) < ($1.user, $1.mechanism) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(entries))
    }
}
