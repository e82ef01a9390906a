// `swiftlet topic create|list|describe|delete|alter-config`: topic administration against any
// Kafka broker, as rpk topic and kafka-topics.sh do it.

import ArgumentParser
import Broker
import KafkaClient
import KafkaProtocol
import SystemCalls

struct Topic: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, describe, delete topics and change their configs.",
        subcommands: [Create.self, List.self, Describe.self, Delete.self, AlterConfig.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create topics.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "Topic names.") var names: [String]
        @Option(name: [.short, .customLong("partitions")], help: "Partitions (default: the broker's num.partitions).")
        var partitions: Int32 = -1
        @Option(name: [.short, .customLong("replicas")], help: "Replication factor (default: the broker's).")
        var replicas: Int16 = -1
        @Option(name: [.short, .customLong("config")], help: "A topic config, key=value (repeatable).")
        var config: [String] = []
        @Flag(name: .long, help: "An existing topic is not an error.") var ifNotExists = false

        func run() throws {
            let configs = try keyValues(config, flag: "--config")
            let cluster = try options.cluster()
            let request = CreateTopicsRequest(
                topics: names.map {
                    .init(
                        name: $0, numPartitions: partitions, replicationFactor: replicas, assignments: [],
                        configs: configs.map { .init(name: $0.0, value: $0.1) })
                }, timeoutMs: options.timeout, validateOnly: false)
            let response = try reportingFailures { () throws(ClientError) in try cluster.any.send(request).response }
            var table = Table("TOPIC", "STATUS")
            var failures: [String] = []
            for result in response.topics {
                if result.errorCode == ErrorCode.topicAlreadyExists.rawValue && ifNotExists {
                    table.add(.string(result.name), .string("exists"))
                } else if result.errorCode != 0 {
                    failures.append(KafkaFailure.describe(result.errorCode, subject: "topic \(result.name)", message: result.errorMessage))
                    table.add(.string(result.name), .string(ErrorCode(rawValue: result.errorCode)?.kafkaName))
                } else {
                    table.add(.string(result.name), .string("created"))
                }
            }
            table.print(options.format)
            try reportFailures(failures)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics.")
        @OptionGroup var options: ClusterOptions
        @Flag(name: [.short, .customLong("internal")], help: "Include internal topics (__consumer_offsets, ...).") var includeInternal =
            false

        func run() throws {
            let cluster = try options.cluster()
            let metadata = try reportingFailures { () throws(ClientError) in try cluster.metadata(topics: nil) }
            var table = Table("NAME", "PARTITIONS", "REPLICAS")
            for topic in metadata.topics.sorted(by: { ($0.name ?? "") < ($1.name ?? "") }) where includeInternal || !topic.isInternal {
                table.add(
                    .string(topic.name), .number(Int64(topic.partitions.count)),
                    .number(Int64(topic.partitions.first?.replicaNodes.count ?? 0)))
            }
            table.print(options.format)
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A topic's partitions, offsets and configs.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "The topic.") var name: String

        func run() throws {
            let cluster = try options.cluster()
            let (topic, starts, ends, configs) = try reportingFailures { () throws(ClientError) in
                let topic = try cluster.topic(name)
                let partitions = topic.partitions.map(\.partitionIndex)
                let request = DescribeConfigsRequest(
                    resources: [.init(resourceType: 2, resourceName: name, configurationKeys: nil)], includeSynonyms: false,
                    includeDocumentation: false)
                let (described, _) = try cluster.any.send(request)
                if let result = described.results.first {
                    try KafkaFailure.check(result.errorCode, subject: "configs of \(name)", message: result.errorMessage)
                }
                return (
                    topic, try cluster.offsets(of: name, partitions: partitions, timestamp: -2),
                    try cluster.offsets(of: name, partitions: partitions, timestamp: -1), described.results.first?.configs ?? []
                )
            }
            // Configs set on the topic itself (configSource 1), not the broker's defaults.
            let overrides = configs.filter { $0.configSource == 1 }.sorted { $0.name < $1.name }
            var partitions = Table("PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "HIGH-WATERMARK")
            for partition in topic.partitions.sorted(by: { $0.partitionIndex < $1.partitionIndex }) {
                partitions.add(
                    .number(Int64(partition.partitionIndex)), .number(Int64(partition.leaderId)),
                    .array(partition.replicaNodes.map { .number(Int64($0)) }), .array(partition.isrNodes.map { .number(Int64($0)) }),
                    .number(starts[partition.partitionIndex] ?? -1), .number(ends[partition.partitionIndex] ?? -1))
            }
            switch options.format {
            case .json:
                let object = JSON.object([
                    ("name", .string(name)), ("id", .string(topic.topicId.description)), ("internal", .bool(topic.isInternal)),
                    ("configs", .object(overrides.map { ($0.name, .string($0.value)) })),
                    ("partitions", partitions.json),
                ])
                System.writeStandardOutput(object.text + "\n")
            case .table:
                System.writeStandardOutput("NAME        \(name)\nID          \(topic.topicId)\nPARTITIONS  \(topic.partitions.count)\n")
                System.writeStandardOutput(
                    "CONFIGS     \(overrides.isEmpty ? "(defaults)" : overrides.map { "\($0.name)=\($0.value ?? "")" }.joined(separator: ", "))\n\n"
                )
                partitions.print(.table)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete topics.")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "Topic names.") var names: [String]

        func run() throws {
            let cluster = try options.cluster()
            let request = DeleteTopicsRequest(
                topics: names.map { .init(name: $0, topicId: .zero) }, topicNames: names, timeoutMs: options.timeout)
            let response = try reportingFailures { () throws(ClientError) in try cluster.any.send(request).response }
            var table = Table("TOPIC", "STATUS")
            var failures: [String] = []
            for (index, result) in response.responses.enumerated() {
                let topic = result.name ?? names[min(index, names.count - 1)]
                if result.errorCode != 0 {
                    failures.append(KafkaFailure.describe(result.errorCode, subject: "topic \(topic)", message: result.errorMessage))
                }
                table.add(.string(topic), .string(result.errorCode == 0 ? "deleted" : ErrorCode(rawValue: result.errorCode)?.kafkaName))
            }
            table.print(options.format)
            try reportFailures(failures)
        }
    }

    struct AlterConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alter-config", abstract: "Set or remove a topic's configs (IncrementalAlterConfigs).")
        @OptionGroup var options: ClusterOptions
        @Argument(help: "The topic.") var name: String
        @Option(name: [.short, .long], help: "key=value to set (repeatable).") var set: [String] = []
        @Option(name: [.short, .long], help: "A key to remove, back to the broker's default (repeatable).") var delete: [String] = []

        func run() throws {
            let changes = try keyValues(set, flag: "--set")
            guard !changes.isEmpty || !delete.isEmpty else {
                throw ValidationError("nothing to change: give --set key=value or --delete key")
            }
            let cluster = try options.cluster()
            let request = IncrementalAlterConfigsRequest(
                resources: [
                    .init(
                        resourceType: 2, resourceName: name,
                        configs: changes.map { .init(name: $0.0, configOperation: 0, value: $0.1) }
                            + delete.map { .init(name: $0, configOperation: 1, value: nil) })
                ], validateOnly: false)
            try reportingFailures { () throws(ClientError) in
                let (response, _) = try cluster.any.send(request)
                for result in response.responses {
                    try KafkaFailure.check(result.errorCode, subject: "configs of \(name)", message: result.errorMessage)
                }
            }
            var table = Table("TOPIC", "CHANGE")
            for (key, value) in changes { table.add(.string(name), .string("\(key)=\(value)")) }
            for key in delete { table.add(.string(name), .string("\(key) removed")) }
            table.print(options.format)
        }
    }
}

/// key=value arguments, in order; a malformed one names its flag.
func keyValues(_ arguments: [String], flag: String) throws -> [(String, String)] {
    try arguments.map { argument in
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw ValidationError("\(flag) \(argument): expected key=value")
        }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
