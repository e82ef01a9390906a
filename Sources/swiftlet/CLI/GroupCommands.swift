// `swiftlet group list|describe|delete|reset-offsets`: consumer groups with their members and
// each partition's lag, as kafka-consumer-groups.sh shows them.

import ArgumentParser
import Broker
import KafkaClient
import KafkaProtocol
import SystemCalls

struct Group: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe and delete consumer groups, and reset their offsets.",
        subcommands: [List.self, Describe.self, Delete.self, ResetOffsets.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every group, with its state.")
        @OptionGroup var options: ClusterOptions

        func run() throws {
            let cluster = try options.cluster()
            let groups = try reportingFailures { () throws(ClientError) in try cluster.listGroups() }
            var table = Table("GROUP", "STATE", "PROTOCOL-TYPE")
            for group in groups { table.add(.string(group.groupId), .string(group.groupState), .string(group.protocolType)) }
            table.print(options.format)
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A group's state, members, and committed offsets with lag.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "The group.") var group: String

        func run() throws {
            let cluster = try options.cluster()
            let (described, lag) = try reportingFailures { () throws(ClientError) in
                (try cluster.describeGroup(group), try cluster.lag(of: group))
            }
            var members = Table("MEMBER", "CLIENT-ID", "HOST")
            for member in described.members { members.add(.string(member.memberId), .string(member.clientId), .string(member.clientHost)) }
            var offsets = Table("TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG")
            for row in lag {
                offsets.add(
                    .string(row.topic), .number(Int64(row.partition)), .number(row.committedOffset), .number(row.logEndOffset),
                    row.lag.map { .number($0) } ?? .string(nil))
            }
            switch options.format {
            case .json:
                let object = JSON.object([
                    ("group", .string(group)), ("state", .string(described.groupState)), ("protocol_type", .string(described.protocolType)),
                    ("protocol", .string(described.protocolData)), ("members", members.json), ("offsets", offsets.json),
                    ("total_lag", .number(lag.compactMap(\.lag).reduce(0, +))),
                ])
                System.writeStandardOutput(object.text + "\n")
            case .table:
                System.writeStandardOutput(
                    "GROUP     \(group)\nSTATE     \(described.groupState)\nPROTOCOL  \(described.protocolType) \(described.protocolData)\nMEMBERS   \(described.members.count)\nLAG       \(lag.compactMap(\.lag).reduce(0, +))\n\n"
                )
                if !described.members.isEmpty {
                    members.print(.table)
                    System.writeStandardOutput("\n")
                }
                offsets.print(.table)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a group without members, with its offsets.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "The group.") var group: String

        func run() throws {
            let cluster = try options.cluster()
            try reportingFailures { () throws(ClientError) in try cluster.deleteGroup(group) }
            var table = Table("GROUP", "STATUS")
            table.add(.string(group), .string("deleted"))
            table.print(options.format)
        }
    }

    struct ResetOffsets: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's offsets on a topic (a group without members); shows the plan unless --execute.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "The group.") var group: String
        @Option(name: [.short, .long], help: "The topic.") var topic: String
        @Flag(help: "Where to: the log start, the log end.") var to: Target?
        @Option(name: .customLong("to-offset"), help: "An offset, for every partition.") var offset: Int64?
        @Option(name: .customLong("to-datetime"), help: "A time in milliseconds since the epoch: the first offset at or after it.")
        var timestamp: Int64?
        @Flag(help: "Commit the new offsets (without it, only the plan is printed).") var execute = false

        enum Target: String, EnumerableFlag {
            case toEarliest, toLatest
        }

        func validate() throws {
            guard [to != nil, offset != nil, timestamp != nil].filter({ $0 }).count == 1 else {
                throw ValidationError("give one of --to-earliest, --to-latest, --to-offset N, --to-datetime MS")
            }
        }

        func run() throws {
            let cluster = try options.cluster()
            let (current, planned) = try reportingFailures { () throws(ClientError) in
                let partitions = try cluster.topic(topic).partitions.map(\.partitionIndex).sorted()
                let current = try cluster.committedOffsets(of: group, topic: topic)[topic] ?? [:]
                var planned: [Int32: Int64]
                switch (to, offset, timestamp) {
                case (.toEarliest?, _, _): planned = try cluster.offsets(of: topic, partitions: partitions, timestamp: -2)
                case (.toLatest?, _, _): planned = try cluster.offsets(of: topic, partitions: partitions, timestamp: -1)
                case (_, let offset?, _):
                    // Within each partition's bounds, as kafka-consumer-groups.sh clamps them.
                    let starts = try cluster.offsets(of: topic, partitions: partitions, timestamp: -2)
                    let ends = try cluster.offsets(of: topic, partitions: partitions, timestamp: -1)
                    planned = Dictionary(
                        uniqueKeysWithValues: partitions.map { ($0, min(max(offset, starts[$0] ?? 0), ends[$0] ?? offset)) })
                case (_, _, let timestamp?): planned = try cluster.offsets(of: topic, partitions: partitions, timestamp: timestamp)
                default: planned = [:]
                }
                if execute { try cluster.commit(planned, of: topic, for: group) }
                return (current, planned)
            }
            var table = Table("TOPIC", "PARTITION", "CURRENT", "NEW")
            for (partition, offset) in planned.sorted(by: { $0.key < $1.key }) {
                table.add(
                    .string(topic), .number(Int64(partition)), current[partition].map { .number($0) } ?? .string(nil), .number(offset))
            }
            table.print(options.format)
            if !execute { System.writeStandardError("(a plan: run again with --execute to commit it)\n") }
        }
    }
}
