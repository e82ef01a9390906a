// A topic as the cluster's metadata store keeps it (Kafka's TopicRecord and PartitionRecords):
// its id and config overrides, and for each partition the replicas, the leader, the leader
// epoch, the in-sync replicas and the partition epoch. Every broker reads the same topics and
// syncs its own registry and partition logs from them.

struct PartitionState: Equatable, Sendable {
    var replicas: [Int32]
    var leader: Int32
    var leaderEpoch: Int32 = 0
    var inSyncReplicas: [Int32]
    /// Bumped by every change of the state, so that a compare-and-swap from a stale read fails.
    var partitionEpoch: Int32 = 0
    /// A reassignment under way (AlterPartitionReassignments): the replicas being added (in
    /// `replicas` already, catching up) and those to go once every added one is in sync.
    var addingReplicas: [Int32] = []
    var removingReplicas: [Int32] = []

    var isReassigning: Bool { !addingReplicas.isEmpty || !removingReplicas.isEmpty }

    /// A new partition: its first replica leads, every replica is in sync.
    init(replicas: [Int32]) {
        self.replicas = replicas
        leader = replicas.first ?? -1
        inSyncReplicas = replicas
    }

    var json: JSON {
        .object([
            ("replicas", .array(replicas.map { .number(Int64($0)) })), ("leader", .number(Int64(leader))),
            ("leaderEpoch", .number(Int64(leaderEpoch))), ("isr", .array(inSyncReplicas.map { .number(Int64($0)) })),
            ("partitionEpoch", .number(Int64(partitionEpoch))),
            ("adding", .array(addingReplicas.map { .number(Int64($0)) })),
            ("removing", .array(removingReplicas.map { .number(Int64($0)) })),
        ])
    }

    init?(json: JSON) {
        guard case .array(let replicas)? = json["replicas"], case .array(let inSync)? = json["isr"],
            let leader = json["leader"]?.integer, let leaderEpoch = json["leaderEpoch"]?.integer,
            let partitionEpoch = json["partitionEpoch"]?.integer
        else { return nil }
        self.replicas = replicas.compactMap { $0.integer.map { Int32(clamping: $0) } }
        inSyncReplicas = inSync.compactMap { $0.integer.map { Int32(clamping: $0) } }
        self.leader = Int32(clamping: leader)
        self.leaderEpoch = Int32(clamping: leaderEpoch)
        self.partitionEpoch = Int32(clamping: partitionEpoch)
        // Absent before reassignments existed.
        if case .array(let adding)? = json["adding"] { addingReplicas = adding.compactMap { $0.integer.map { Int32(clamping: $0) } } }
        if case .array(let removing)? = json["removing"] {
            removingReplicas = removing.compactMap { $0.integer.map { Int32(clamping: $0) } }
        }
    }
}

struct ClusterTopic: Equatable, Sendable {
    var name: String
    var id: String
    var configs: [String: String]
    var partitions: [PartitionState]

    /// The topic as the local registry holds it.
    var info: TopicInfo { TopicInfo(name: name, id: id, partitions: Int32(partitions.count), configs: configs) }

    /// The topic key's value (the partitions have keys of their own).
    var json: JSON {
        .object([
            ("id", .string(id)),
            ("configs", .object(configs.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })),
        ])
    }

    init(name: String, id: String, configs: [String: String], partitions: [PartitionState]) {
        self.name = name
        self.id = id
        self.configs = configs
        self.partitions = partitions
    }

    /// A topic from its key's value and its partitions' (nil: not one of ours).
    init?(name: String, json: JSON, partitions: [PartitionState]) {
        guard let id = json["id"]?.string, case .object(let configs)? = json["configs"] else { return nil }
        self.init(
            name: name, id: id,
            configs: Dictionary(configs.compactMap { key, value in value.string.map { (key, $0) } }, uniquingKeysWith: { $1 }),
            partitions: partitions)
    }

    /// Kafka's assignment without racks: partition p's replicas are the `replicationFactor`
    /// brokers from `start + p` on in node id order, so that leaders spread over the brokers.
    static func assignment(partitions: Int32, replicationFactor: Int, brokers: [Int32], start: Int) -> [[Int32]] {
        let sorted = brokers.sorted()
        guard !sorted.isEmpty else { return [] }
        return (0..<Int(partitions)).map { partition in
            (0..<replicationFactor).map { replica in sorted[(start + partition + replica) % sorted.count] }
        }
    }
}
