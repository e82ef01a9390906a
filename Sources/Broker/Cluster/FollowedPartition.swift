// A partition this broker follows: the leader and leader epoch it follows in, and whether its
// log has been cut where it parts from that leader's (KIP-101) since. Its lock is held across a
// fetched append, so that a leadership change never lands between the check and the write.

import KafkaWire
import Synchronization

final class FollowedPartition: Sendable {
    struct State: Equatable {
        var leader: Int32
        var leaderEpoch: Int32
        /// Whether the divergent tail is gone for this leader and epoch: fetching may begin.
        var truncated = false
    }

    let name: TopicPartition
    private let state: Mutex<State>

    init(name: TopicPartition, leader: Int32, leaderEpoch: Int32) {
        self.name = name
        state = Mutex(State(leader: leader, leaderEpoch: leaderEpoch))
    }

    var current: State { state.withLock { $0 } }

    /// Follows `leader` in `leaderEpoch` (-1: no longer followed). True when that is a change,
    /// which makes the log be checked against the leader's again.
    @discardableResult
    func follow(leader: Int32, leaderEpoch: Int32) -> Bool {
        state.withLock { state in
            guard state.leader != leader || state.leaderEpoch != leaderEpoch else { return false }
            state = State(leader: leader, leaderEpoch: leaderEpoch)
            return true
        }
    }

    /// Runs `body` if the partition is still followed as `expected` says, with no change able
    /// to begin meanwhile; `body` may mark the tail truncated. Nil when it has changed.
    func ifStill<Result>(_ expected: State, _ body: (inout State) throws -> Result) rethrows -> Result? {
        try state.withLock { state in
            guard state == expected else { return nil }
            return try body(&state)
        }
    }
}
