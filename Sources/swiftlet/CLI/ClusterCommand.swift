// `swiftlet cluster info`: the cluster id, the controller and the brokers, from Metadata.

import ArgumentParser
import KafkaClient

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The cluster's id and brokers.", subcommands: [Info.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The cluster id, the controller and each broker.")
        @OptionGroup var options: ClusterOptions

        func run() throws {
            let cluster = try options.cluster()
            let metadata = try reportingFailures { () throws(ClientError) in try cluster.metadata(topics: []) }
            var table = Table("CLUSTER", "CONTROLLER", "BROKER", "HOST", "PORT", "RACK")
            for broker in metadata.brokers.sorted(by: { $0.nodeId < $1.nodeId }) {
                table.add(
                    .string(metadata.clusterId), .number(Int64(metadata.controllerId)), .number(Int64(broker.nodeId)), .string(broker.host),
                    .number(Int64(broker.port)), .string(broker.rack))
            }
            table.print(options.format)
        }
    }
}
