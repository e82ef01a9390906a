// Fetch sessions (KIP-227): a consumer names its partitions once (a full fetch with epoch
// 0), then sends only changes (incremental fetches with growing epochs) and gets back only
// the partitions that changed. Sessions are kept per broker, at most `capacity`, the least
// recently used evicted first.

import KafkaProtocol
import KafkaWire
import LogStorage
import Synchronization
import SystemCalls

/// One partition a fetch reads.
struct FetchTarget: Sendable, Equatable {
    var name: String?
    var topicId: Uuid
    var partition: Int32
    var fetchOffset: Int64
    var partitionMaxBytes: Int32
    /// The leader epoch the client knows (-1: unchecked), fenced or unknown when it is not ours.
    var currentLeaderEpoch: Int32 = -1

    var key: String { "\(name ?? topicId.description)-\(partition)" }
}

/// What a fetch request amounts to once its session is resolved.
enum FetchPlan: Sendable, Equatable {
    /// No session: every partition in the response (session id 0).
    case sessionless([FetchTarget])
    /// A new session: every partition in the response, and its id.
    case full(sessionId: Int32, [FetchTarget])
    /// An existing session: only changed partitions in the response.
    case incremental(sessionId: Int32, [FetchTarget])
    case error(ErrorCode)

    var targets: [FetchTarget] {
        switch self {
        case .sessionless(let targets), .full(_, let targets), .incremental(_, let targets): return targets
        case .error: return []
        }
    }
}

final class FetchSessionCache: Sendable {
    struct Sent: Equatable {
        var highWatermark: Int64
        var logStartOffset: Int64
    }

    private struct Session {
        var epoch: Int32
        var order: [String]
        var targets: [String: FetchTarget]
        var lastSent: [String: Sent] = [:]
        var lastUsed: UInt64
    }

    /// Kafka's max.incremental.fetch.session.cache.slots.
    let capacity: Int
    private let state = Mutex<(sessions: [Int32: Session], generator: SystemRandomNumberGenerator)>(([:], SystemRandomNumberGenerator()))

    init(capacity: Int = 1_000) { self.capacity = capacity }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Resolves `request` against the cache (updating it), per KIP-227's epochs:
    /// id 0 / epoch -1 sessionless; id 0 / epoch 0 new session; id N / epoch -1 close;
    /// id N / epoch 0 close and start anew; id N / epoch > 0 incremental.
    func plan(_ request: FetchRequest, targets: [FetchTarget], forgotten: [String]) -> FetchPlan {
        state.withLock { state in
            let now = System.monotonicNanoseconds()
            if request.sessionId != 0 && request.sessionEpoch <= 0 {
                state.sessions.removeValue(forKey: request.sessionId)
            }
            if request.sessionEpoch == -1 { return .sessionless(targets) }
            if request.sessionEpoch == 0 {
                if state.sessions.count >= capacity,
                    let oldest = state.sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key
                {
                    state.sessions.removeValue(forKey: oldest)
                }
                var id: Int32 = 0
                while id == 0 || state.sessions[id] != nil { id = Int32.random(in: 1...Int32.max, using: &state.generator) }
                state.sessions[id] = Session(
                    epoch: 1, order: targets.map(\.key),
                    targets: Dictionary(targets.map { ($0.key, $0) }, uniquingKeysWith: { $1 }), lastUsed: now)
                return .full(sessionId: id, targets)
            }
            guard var session = state.sessions[request.sessionId] else { return .error(.fetchSessionIdNotFound) }
            guard session.epoch == request.sessionEpoch else { return .error(.invalidFetchSessionEpoch) }
            for target in targets {
                if session.targets[target.key] == nil { session.order.append(target.key) }
                session.targets[target.key] = target
            }
            for key in forgotten {
                session.targets.removeValue(forKey: key)
                session.lastSent.removeValue(forKey: key)
            }
            session.order.removeAll { session.targets[$0] == nil }
            session.epoch = session.epoch == Int32.max ? 1 : session.epoch + 1
            session.lastUsed = now
            state.sessions[request.sessionId] = session
            return .incremental(sessionId: request.sessionId, session.order.compactMap { session.targets[$0] })
        }
    }

    func lastSent(sessionId: Int32, key: String) -> Sent? {
        state.withLock { $0.sessions[sessionId]?.lastSent[key] }
    }

    /// Records what a response told the client, so the next incremental one can leave out
    /// partitions that did not change; a fetch position moves with the records sent.
    func recordSent(sessionId: Int32, _ sent: [(key: String, sent: Sent)]) {
        state.withLock { state in
            guard var session = state.sessions[sessionId] else { return }
            for (key, value) in sent { session.lastSent[key] = value }
            state.sessions[sessionId] = session
        }
    }
}
