// /metrics in Prometheus' text format, computed at scrape from the broker's state: per
// partition its offsets, size and segments; per consumer group its state, members and lag
// per partition; topics, connections' listeners and the broker's identity.

import Coordinators
import KafkaWire
import LogStorage

enum MetricsExposition {
    static func text(of broker: Broker) -> String {
        var output = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Int64)]) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                output += labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(labels)} \(sample.value)\n"
            }
        }
        family(
            "swiftlet_broker_info", "gauge", "The broker's identity.",
            [([("cluster_id", broker.clusterId), ("node_id", String(broker.configuration.nodeId))], 1)])
        let partitions = broker.logs.allPartitions.compactMap { name in broker.logs.partition(name).map { (name, $0) } }
        func perPartition(_ value: (PartitionLog) -> Int64) -> [(labels: [(String, String)], value: Int64)] {
            partitions.map { ([("topic", $0.0.topic), ("partition", String($0.0.partition))], value($0.1)) }
        }
        family("swiftlet_topics", "gauge", "Topics, internal ones included.", [([], Int64(broker.topics.all.count))])
        family("swiftlet_partitions", "gauge", "Partitions on this broker.", [([], Int64(partitions.count))])
        family("kafka_log_log_end_offset", "gauge", "The offset the next record gets.", perPartition(\.logEndOffset))
        family("kafka_log_log_start_offset", "gauge", "The first offset kept.", perPartition(\.logStartOffset))
        family("kafka_partition_high_watermark", "gauge", "The offset consumers may read up to.", perPartition(\.highWatermark))
        family(
            "kafka_partition_last_stable_offset", "gauge", "The first offset of an open transaction, else the high watermark.",
            perPartition(\.lastStableOffset))
        family("kafka_log_size_bytes", "gauge", "Bytes of the partition's segments.", perPartition(\.sizeInBytes))
        family("kafka_log_segments", "gauge", "Segments of the partition.", perPartition { Int64($0.segmentCount) })
        var groupStates: [(labels: [(String, String)], value: Int64)] = []
        var groupMembers: [(labels: [(String, String)], value: Int64)] = []
        var lag: [(labels: [(String, String)], value: Int64)] = []
        for group in broker.groups.listGroups(states: [], types: []) {
            groupStates.append(([("group", group.groupId), ("state", group.state)], 1))
            let members = broker.groups.describeClassicGroup(group.groupId)?.members.count ?? 0
            groupMembers.append(([("group", group.groupId)], Int64(members)))
            let (_, offsets) = broker.groups.fetchOffsets(groupId: group.groupId, partitions: nil, memberId: nil, memberEpoch: -1)
            for (partition, committed) in offsets.sorted(by: { $0.key < $1.key }) {
                guard let log = broker.logs.partition(partition) else { continue }
                lag.append(
                    (
                        [("group", group.groupId), ("topic", partition.topic), ("partition", String(partition.partition))],
                        max(0, log.highWatermark - committed.offset)
                    ))
            }
        }
        family("kafka_consumergroup_state", "gauge", "1 for the group's state.", groupStates)
        family("kafka_consumergroup_members", "gauge", "Members of the group.", groupMembers)
        family("kafka_consumergroup_lag", "gauge", "The high watermark less the group's committed offset.", lag)
        return output
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
