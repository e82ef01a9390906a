// `swiftlet health`: whether a broker answers Kafka requests, for a container HEALTHCHECK
// (no other tool in the image) and scripts; exit 0 when ApiVersions and Metadata are
// answered, 1 otherwise.

import ArgumentParser
import FoundationEssentials
import KafkaClient
import KafkaProtocol
import SystemCalls

struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a broker answers (exit 0) or not (exit 1), as a container health check.")

    @Option(name: [.short, .long], help: "The broker, host:port. Default SWIFTLET_BROKERS, else 127.0.0.1:9092.")
    var brokers: String?
    @Option(name: .long, help: "Milliseconds to wait for each answer.")
    var timeout: Int32 = 5_000

    func run() throws {
        let address =
            brokers ?? ProcessInfo.processInfo.environment["SWIFTLET_BROKERS"]?.split(separator: ",").first.map(String.init)
            ?? "127.0.0.1:9092"
        do {
            let connection = try BrokerConnection(address, clientId: "swiftlet-health", timeoutMilliseconds: timeout)
            let (metadata, _) = try connection.send(MetadataRequest(topics: [], allowAutoTopicCreation: false))
            System.writeStandardOutput(
                "ok: \(address) serves \(connection.servedVersions.count) APIs, cluster \(metadata.clusterId ?? "?"), \(metadata.brokers.count) broker(s)\n"
            )
        } catch {
            System.writeStandardError("unhealthy: \(error)\n")
            throw ExitCode(1)
        }
    }
}
