// `swiftlet consume TOPIC`: records printed as they are read (kcat's -C habits): kcat's offset
// forms, a format string, exit at the end or follow, and membership of a consumer group
// (kcat's -G: partitions shared with the group's other members, offsets committed).

import ArgumentParser
import Broker
import Glibc
import KafkaClient
import KafkaRecords
import SystemCalls

struct Consume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a topic's records (read_committed).")
    @OptionGroup var options: ClusterOptions
    @Argument(help: "The topic.") var topic: String
    @Option(
        name: [.short, .long], parsing: .unconditional,
        help: "Where to start: beginning, end, stored (the group's), N, -N (N before the end), s@MS (the first record at or after a time).")
    var offset: String = "beginning"
    @Option(name: [.short, .long], help: "A partition (repeatable; default every one).") var partition: [Int32] = []
    @Flag(name: [.short, .customLong("exit")], help: "Exit at the end of every partition instead of waiting for more.")
    var exitAtEnd = false
    @Option(name: [.short, .long], help: "Exit after this many records.") var count: Int?
    @Option(
        name: [.customShort("f"), .customLong("print")],
        help:
            "How each record prints: %s value, %k key, %t topic, %p partition, %o offset, %T timestamp, %h headers, %S/%K lengths, \\n \\t."
    )
    var printFormat: String = "%s\\n"
    @Option(
        name: [.customShort("G"), .long],
        help: "Join this consumer group: read the partitions it assigns, from its committed offsets (else -o), committing as it reads.")
    var group: String?

    enum Start: Equatable {
        case timestamp(Int64)  // -2 beginning, -1 end, else a time
        case absolute(Int64)
        case fromEnd(Int64)
        case stored
    }

    static func parseStart(_ text: String) -> Start? {
        switch text {
        case "beginning", "earliest", "start": return .timestamp(-2)
        case "end", "latest": return .timestamp(-1)
        case "stored", "committed": return .stored
        default:
            if text.hasPrefix("s@"), let time = Int64(text.dropFirst(2)), time >= 0 { return .timestamp(time) }
            if text.hasPrefix("-"), let back = Int64(text.dropFirst()), back > 0 { return .fromEnd(back) }
            if let absolute = Int64(text), absolute >= 0 { return .absolute(absolute) }
            return nil
        }
    }

    func validate() throws {
        guard let start = Self.parseStart(offset) else {
            throw ValidationError("--offset \(offset): beginning, end, stored, N, -N or s@MS")
        }
        if start == .stored && group == nil { throw ValidationError("--offset stored needs --group") }
        if group != nil && !partition.isEmpty { throw ValidationError("--partition and --group: the group assigns the partitions") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        let cluster = try options.cluster()
        let start = Self.parseStart(offset)!
        var remaining = count ?? .max
        try reportingFailures { () throws(ClientError) in
            let all = try cluster.topic(topic).partitions.map(\.partitionIndex).sorted()
            for chosen in partition where !all.contains(chosen) {
                throw ClientError("topic \(topic) has no partition \(chosen) (it has \(all.count))")
            }
            let member = try group.map { group throws(ClientError) in try GroupMember(cluster: cluster, group: group, topic: topic) }
            defer { member?.leave() }
            var partitions = try member?.join() ?? (partition.isEmpty ? all : partition)
            var positions = try startPositions(start, partitions: partitions, cluster: cluster)
            var finished: Set<Int32> = []
            while true {
                // A member the group gave nothing waits between heartbeats instead of spinning.
                if positions.isEmpty { usleep(500_000) }
                let fetched = try cluster.fetch(topic, positions: positions, maxWaitMilliseconds: 500)
                var read: [Int32: Int64] = [:]
                for partition in fetched {
                    for record in partition.records {
                        System.writeStandardOutput(render(record, partition: partition.partition))
                        read[partition.partition] = record.offset + 1
                        remaining -= 1
                        if remaining == 0 {
                            _ = try member?.commit(read)
                            return
                        }
                    }
                    positions[partition.partition] = partition.nextOffset
                    if partition.nextOffset >= partition.endOffset { finished.insert(partition.partition) }
                }
                if let member {
                    var rejoin = try !member.commit(read)
                    if !rejoin { rejoin = try member.heartbeatIfDue() }
                    if rejoin {
                        // A rebalance: join again and go on from the group's offsets.
                        partitions = try member.join()
                        positions = try startPositions(start, partitions: partitions, cluster: cluster)
                        finished = []
                    }
                }
                if exitAtEnd && finished.isSuperset(of: partitions) { return }
            }
        }
    }

    /// Where each partition starts: a group's committed offset when there is one, else `start`
    /// (for `stored` without one, the log start).
    func startPositions(_ start: Start, partitions: [Int32], cluster: KafkaCluster) throws(ClientError) -> [Int32: Int64] {
        guard !partitions.isEmpty else { return [:] }
        var positions = try positions(start, partitions: partitions, cluster: cluster)
        if let group {
            let committed = try cluster.committedOffsets(of: group, topic: topic)[topic] ?? [:]
            for partition in partitions { if let offset = committed[partition], offset >= 0 { positions[partition] = offset } }
        }
        return positions
    }

    private func positions(_ start: Start, partitions: [Int32], cluster: KafkaCluster) throws(ClientError) -> [Int32: Int64] {
        switch start {
        case .timestamp(let time):
            return try cluster.offsets(of: topic, partitions: partitions, timestamp: time)
        case .absolute(let offset):
            let ends = try cluster.offsets(of: topic, partitions: partitions, timestamp: -1)
            let starts = try cluster.offsets(of: topic, partitions: partitions, timestamp: -2)
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, min(max(offset, starts[$0] ?? 0), ends[$0] ?? offset)) })
        case .fromEnd(let back):
            let ends = try cluster.offsets(of: topic, partitions: partitions, timestamp: -1)
            let starts = try cluster.offsets(of: topic, partitions: partitions, timestamp: -2)
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, max((ends[$0] ?? 0) - back, starts[$0] ?? 0)) })
        case .stored:
            let starts = try cluster.offsets(of: topic, partitions: partitions, timestamp: -2)
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, starts[$0] ?? 0) })
        }
    }

    func render(_ record: Record, partition: Int32) -> String {
        func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
        if options.format == .json {
            let object = JSON.object([
                ("topic", .string(topic)), ("partition", .number(Int64(partition))), ("offset", .number(record.offset)),
                ("timestamp", .number(record.timestamp)), ("key", .string(text(record.key))), ("value", .string(text(record.value))),
                ("headers", .object(record.headers.map { ($0.key, .string(text($0.value))) })),
            ])
            return object.text + "\n"
        }
        var output = ""
        var characters = printFormat[...]
        while let character = characters.popFirst() {
            switch character {
            case "%":
                guard let token = characters.popFirst() else {
                    output.append("%")
                    break
                }
                switch token {
                case "s": output += text(record.value) ?? ""
                case "S": output += String(record.value?.count ?? -1)
                case "k": output += text(record.key) ?? ""
                case "K": output += String(record.key?.count ?? -1)
                case "t": output += topic
                case "p": output += String(partition)
                case "o": output += String(record.offset)
                case "T": output += String(record.timestamp)
                case "h": output += record.headers.map { "\($0.key)=\(text($0.value) ?? "")" }.joined(separator: ",")
                case "%": output += "%"
                default: output += "%" + String(token)
                }
            case "\\":
                guard let escaped = characters.popFirst() else {
                    output.append("\\")
                    break
                }
                switch escaped {
                case "n": output += "\n"
                case "t": output += "\t"
                case "r": output += "\r"
                case "\\": output += "\\"
                default: output += "\\" + String(escaped)
                }
            default:
                output.append(character)
            }
        }
        return output
    }
}
