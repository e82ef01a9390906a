// Leader elections as Kafka's controller makes them, sans IO: a partition state and the live
// brokers in, the new state (a new leader epoch; the compare-and-swap bumps the partition
// epoch) or the reason there is none out. The
// controller's pass over brokers that are gone, ElectLeaders and the automatic rebalance all
// go through here before their compare-and-swap.

import KafkaProtocol

enum LeaderElection: Equatable, Sendable {
    /// The preferred replica (the first one) takes over, if it is live and in sync: ElectLeaders'
    /// PREFERRED and auto.leader.rebalance.enable.
    case preferred
    /// A partition whose leader's broker is gone gets the first live in-sync replica; with
    /// `unclean`, any live replica when no in-sync one is (what is past its log end is lost:
    /// unclean.leader.election.enable, or ElectLeaders' UNCLEAN).
    case offline(unclean: Bool)

    func elect(_ state: PartitionState, live: Set<Int32>) -> Result<PartitionState, ElectionRefusal> {
        var elected = state
        switch self {
        case .preferred:
            guard let preferred = state.replicas.first else { return .failure(.preferredLeaderNotAvailable) }
            if state.leader == preferred && live.contains(preferred) { return .failure(.notNeeded) }
            guard live.contains(preferred), state.inSyncReplicas.contains(preferred) else {
                return .failure(.preferredLeaderNotAvailable)
            }
            elected.leader = preferred
        case .offline(let unclean):
            if live.contains(state.leader) { return .failure(.notNeeded) }
            if let inSync = state.replicas.first(where: { live.contains($0) && state.inSyncReplicas.contains($0) }) {
                elected.leader = inSync
            } else if unclean, let any = state.replicas.first(where: live.contains) {
                elected.leader = any
                elected.inSyncReplicas = [any]
            } else {
                return .failure(.eligibleLeadersNotAvailable)
            }
        }
        elected.leaderEpoch += 1
        return .success(elected)
    }
}

/// Why an election did not happen, as ElectLeaders answers it.
enum ElectionRefusal: Error, Equatable {
    case notNeeded
    case preferredLeaderNotAvailable
    case eligibleLeadersNotAvailable
    /// The partition kept changing under the election (retriable).
    case raced

    var errorCode: ErrorCode {
        switch self {
        case .notNeeded: .electionNotNeeded
        case .preferredLeaderNotAvailable: .preferredLeaderNotAvailable
        case .eligibleLeadersNotAvailable: .eligibleLeadersNotAvailable
        case .raced: .requestTimedOut
        }
    }

    var message: String {
        switch self {
        case .notNeeded: "Leader election not needed for topic partition."
        case .preferredLeaderNotAvailable: "The preferred leader is not live or not in the in-sync replicas."
        case .eligibleLeadersNotAvailable: "No live replica can be elected leader."
        case .raced: "The partition kept changing during the election; try again."
        }
    }
}
