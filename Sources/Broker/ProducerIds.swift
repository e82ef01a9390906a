// Producer ids for idempotent producers, handed out from blocks whose end is persisted
// before any id of the block is used, so no id is ever reused across restarts. In a cluster
// the blocks come from the metadata store (Kafka's AllocateProducerIds), so that no two
// brokers hand out the same id.

import FoundationEssentials
import Synchronization
import SystemCalls

final class ProducerIds: Sendable {
    static let blockSize: Int64 = 1_000
    private let path: String?
    // (next id to hand out, end of the persisted block)
    private let state = Mutex<(next: Int64, blockEnd: Int64)>((0, 0))
    /// The cluster's allocator: the first id of a new block of the given size.
    private let allocateBlock: (@Sendable (Int64) throws -> Int64)?

    init(dataDirectory: String?, allocateBlock: (@Sendable (Int64) throws -> Int64)? = nil) {
        path = dataDirectory.map { $0 + "/producer-id-block" }
        self.allocateBlock = allocateBlock
    }

    func next() throws -> Int64 {
        try state.withLock { state in
            if state.next >= state.blockEnd, let allocateBlock {
                let start = try allocateBlock(Self.blockSize)
                state = (start, start + Self.blockSize)
            } else if state.next >= state.blockEnd {
                let start = max(state.next, try readPersisted())
                let end = start + Self.blockSize
                try persist(end)
                state = (start, end)
            }
            defer { state.next += 1 }
            return state.next
        }
    }

    private func readPersisted() throws -> Int64 {
        guard let path, let bytes = try System.readFileIfPresent(path) else { return 0 }
        return Int64(String(decoding: bytes, as: UTF8.self).trimmed) ?? 0
    }

    private func persist(_ end: Int64) throws {
        guard let path else { return }
        try System.replaceFile(path, with: Array("\(end)\n".utf8))
    }
}
