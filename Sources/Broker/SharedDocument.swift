// A broker-wide document kept whole: the ACLs, the client quotas, the SCRAM credentials. A
// single broker keeps it in a file of its data directory (replaced whole: written aside,
// synced, renamed); a cluster member keeps it in the cluster's metadata store, changed by
// compare-and-swap so that changes made through different brokers never undo each other, and
// read again by every member when it changes (Broker.refreshSharedDocuments).

import Synchronization
import SystemCalls

final class SharedDocument: Sendable {
    enum Place: Sendable {
        /// No data directory: kept for the process's life.
        case memory
        case file(path: String)
        case cluster(any ClusterMetadataStore, name: String)
    }

    let place: Place
    /// The document as last read or written here.
    private let known: Mutex<[UInt8]?>

    init(_ place: Place) throws {
        self.place = place
        switch place {
        case .memory: known = Mutex(nil)
        case .file(let path): known = Mutex(try System.readFileIfPresent(path))
        case .cluster(let store, let name): known = Mutex(try store.documents()[name])
        }
    }

    var bytes: [UInt8]? { known.withLock { $0 } }

    /// Stores what `change` makes of the document as it is and returns it; nil when `change`
    /// changes nothing. In a cluster, when another broker changed the document first, `change`
    /// runs again on what that broker made of it.
    func update(_ change: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        guard case .cluster(let store, let name) = place else {
            guard let updated = try change(bytes) else { return nil }
            if case .file(let path) = place { try System.replaceFile(path, with: updated) }
            known.withLock { $0 = updated }
            return updated
        }
        var current = bytes
        for _ in 0..<10 {
            guard let updated = try change(current) else { return nil }
            if try store.replaceDocument(name, holding: current, with: updated) {
                known.withLock { $0 = updated }
                return updated
            }
            current = try store.documents()[name]
        }
        throw BrokerError.metadataUnavailable("\(name): changed by other brokers too often; try again")
    }

    /// Reads the document again (from the cluster's store; a file's or memory's is as known)
    /// and keeps it. Its holder calls this under the lock its own changes take, so that an
    /// older copy never replaces a change this broker has just made.
    func reread() throws -> [UInt8]? {
        guard case .cluster(let store, let name) = place else { return bytes }
        let stored = try store.documents()[name]
        known.withLock { $0 = stored }
        return stored
    }

    /// Whether `stored` (the document as a read of the cluster's store found it) is not what
    /// this broker saw last: then its holder reads it again (`reread`).
    func differs(from stored: [UInt8]?) -> Bool {
        known.withLock { $0 != stored }
    }
}
