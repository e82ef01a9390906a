// KIP-848's server-side assignors. `uniform` spreads every subscribed partition evenly and
// keeps partitions where they are when it can; `range` gives each subscriber of a topic a
// contiguous range of its partitions, as the client-side range assignor does.

struct AssignmentSpec {
    /// member id -> the topics it subscribes to (existing topics only).
    var subscriptions: [String: Set<String>]
    /// topic -> partition count.
    var partitionCounts: [String: Int32]
    /// member id -> its current target, for stickiness.
    var current: [String: TopicAssignment]
}

enum ServerAssignor {
    static func assign(_ name: String, _ spec: AssignmentSpec) -> [String: TopicAssignment] {
        name == "range" ? range(spec) : uniform(spec)
    }

    static func range(_ spec: AssignmentSpec) -> [String: TopicAssignment] {
        var result: [String: TopicAssignment] = Dictionary(uniqueKeysWithValues: spec.subscriptions.keys.map { ($0, [:]) })
        for (topic, count) in spec.partitionCounts {
            let subscribers = spec.subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
            guard !subscribers.isEmpty else { continue }
            let share = Int(count) / subscribers.count
            let extra = Int(count) % subscribers.count
            var next: Int32 = 0
            for (index, member) in subscribers.enumerated() {
                let size = share + (index < extra ? 1 : 0)
                if size > 0 { result[member]![topic] = Set(next..<next + Int32(size)) }
                next += Int32(size)
            }
        }
        return result
    }

    private struct Partition: Hashable, Comparable {
        let topic: String
        let index: Int32
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topic, lhs.index) < (rhs.topic, rhs.index) }
    }

    static func uniform(_ spec: AssignmentSpec) -> [String: TopicAssignment] {
        let members = spec.subscriptions.keys.sorted()
        var owner: [Partition: String] = [:]
        var counts: [String: Int] = Dictionary(uniqueKeysWithValues: members.map { ($0, 0) })
        let partitions = spec.partitionCounts.flatMap { topic, count in
            spec.subscriptions.values.contains { $0.contains(topic) } ? (0..<count).map { Partition(topic: topic, index: $0) } : []
        }.sorted()
        func eligible(_ partition: Partition) -> [String] {
            members.filter { spec.subscriptions[$0]!.contains(partition.topic) }
        }
        // Keep what members already had, while they still subscribe to it.
        for member in members {
            for (topic, indexes) in spec.current[member] ?? [:] where spec.subscriptions[member]!.contains(topic) {
                for index in indexes.sorted() where index < spec.partitionCounts[topic] ?? 0 {
                    let partition = Partition(topic: topic, index: index)
                    if owner[partition] == nil {
                        owner[partition] = member
                        counts[member]! += 1
                    }
                }
            }
        }
        // Give the rest to the least loaded eligible member.
        for partition in partitions where owner[partition] == nil {
            guard let member = eligible(partition).min(by: { (counts[$0]!, $0) < (counts[$1]!, $1) }) else { continue }
            owner[partition] = member
            counts[member]! += 1
        }
        // Then move partitions from members with two more than an eligible peer.
        var moved = true
        var rounds = 0
        while moved && rounds < partitions.count + 1 {
            moved = false
            rounds += 1
            for partition in partitions.reversed() {
                guard let current = owner[partition],
                    let lightest = eligible(partition).min(by: { (counts[$0]!, $0) < (counts[$1]!, $1) }),
                    counts[current]! > counts[lightest]! + 1
                else { continue }
                owner[partition] = lightest
                counts[current]! -= 1
                counts[lightest]! += 1
                moved = true
            }
        }
        var result: [String: TopicAssignment] = Dictionary(uniqueKeysWithValues: members.map { ($0, [:]) })
        for (partition, member) in owner { result[member]![partition.topic, default: []].insert(partition.index) }
        return result
    }
}
