// `swiftlet produce TOPIC`: each line of standard input a record (kcat's -P habits): a key
// before a separator, headers, a fixed partition, compression and acks.

import ArgumentParser
import Broker
import KafkaClient
import KafkaRecords
import SystemCalls

struct Produce: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Produce each line of standard input as a record.")
    @OptionGroup var options: ClusterOptions
    @Argument(help: "The topic.") var topic: String
    @Option(name: [.short, .customLong("key-separator")], help: "Split each line at the first SEPARATOR: the key before, the value after.")
    var keySeparator: String?
    @Option(name: [.customShort("H"), .long], help: "A header, key=value, on every record (repeatable).") var header: [String] = []
    @Option(name: [.short, .long], help: "The partition (default: by the key's hash, as Kafka's clients; unkeyed in turn).")
    var partition: Int32?
    @Option(name: [.customShort("z"), .long], help: "none, gzip, snappy, lz4 or zstd.") var compression: String = "none"
    @Option(name: .long, help: "all (-1), 1 or 0.") var acks: String = "all"
    @Option(name: .long, help: "Records per Produce request.") var batch: Int = 1_000

    func run() throws {
        guard let codec = CompressionCodec.allCases.first(where: { "\($0)" == compression.lowercased() }) else {
            throw ValidationError("--compression \(compression): none, gzip, snappy, lz4 or zstd")
        }
        guard let acks = ["all": Int16(-1), "-1": -1, "1": 1, "0": 0][acks.lowercased()] else {
            throw ValidationError("--acks \(acks): all, 1 or 0")
        }
        guard batch > 0 else { throw ValidationError("--batch must be at least 1") }
        let headers = try keyValues(header, flag: "--header").map { RecordHeader(key: $0.0, value: Array($0.1.utf8)) }
        var settings = ProduceSettings()
        settings.acks = acks
        settings.compression = codec
        settings.timeoutMilliseconds = options.timeout
        let cluster = try options.cluster()
        var partitioner = Partitioner()
        var pending: [OutgoingRecord] = []
        var produced = 0
        func flush() throws {
            guard !pending.isEmpty else { return }
            try reportingFailures { () throws(ClientError) in
                try cluster.produce(pending, to: topic, settings: settings, partitioner: &partitioner)
            }
            produced += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        while let line = readLine(strippingNewline: true) {
            var key: [UInt8]?
            var value = Array(line.utf8)
            if let keySeparator, let range = line.firstRange(of: keySeparator) {
                key = Array(line[..<range.lowerBound].utf8)
                value = Array(line[range.upperBound...].utf8)
            }
            pending.append(OutgoingRecord(key: key, value: value, headers: headers, partition: partition))
            if pending.count >= batch { try flush() }
        }
        try flush()
        switch options.format {
        case .json: System.writeStandardOutput(JSON.object([("topic", .string(topic)), ("records", .number(Int64(produced)))]).text + "\n")
        case .table: System.writeStandardError("produced \(produced) record(s) to \(topic)\n")
        }
    }
}
