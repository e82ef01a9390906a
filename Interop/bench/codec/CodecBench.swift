// Release-build benchmark of the protocol layer (not a test: it asserts nothing, it
// measures): decoding a Produce request that carries a 1 MiB batch with CRC validation,
// encoding a 1,000-partition Metadata response, CRC32C alone, each codec's decompression,
// and the record framing check produce makes of each codec's batches. Run: swift run -c release codec-bench

import Foundation
import KafkaProtocol
import KafkaRecords
import KafkaWire

@main
struct CodecBench {
    static func main() throws {
        print("| what | size | per operation | throughput |")
        print("|---|---|---|---|")
        try produceDecode()
        try crcAlone()
        try metadataEncode()
        try decompression()
    }

    /// Runs `body` repeatedly for about half a second after a warm-up; returns seconds per run.
    static func measure(_ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<3 { try body() }
        let clock = ContinuousClock()
        var runs = 0
        let start = clock.now
        var elapsed = Duration.zero
        repeat {
            try body()
            runs += 1
            elapsed = clock.now - start
        } while elapsed < .milliseconds(500)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds / Double(runs)
    }

    static func row(_ what: String, bytes: Int, seconds: Double) {
        let perOperation = seconds >= 1e-3 ? "\(format(seconds * 1e3)) ms" : "\(format(seconds * 1e6)) µs"
        let throughput = bytes > 0 ? "\(format(Double(bytes) / seconds / 1e9)) GB/s" : "\(format(1 / seconds)) ops/s"
        print("| \(what) | \(bytes > 0 ? "\(bytes / 1024) KiB" : "-") | \(perOperation) | \(throughput) |")
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// JSON-like events of about `valueSize` bytes: compress as typical application payloads.
    static func sampleRecords(totalBytes: Int, valueSize: Int = 1_000) -> [Record] {
        var generator = SplitMix(state: 42)
        return (0..<(totalBytes / (valueSize + 20))).map { index in
            var text = ""
            while text.utf8.count < valueSize {
                let user = generator.next() % 10_000
                let amount = generator.next() % 100_000
                text += "{\"user\":\"user-\(user)\",\"event\":\"purchase\",\"amount\":\(amount),\"currency\":\"EUR\"},"
            }
            return Record(
                offset: Int64(index), timestamp: 1_700_000_000_000 + Int64(index),
                key: Array("key-\(index)".utf8), value: Array(text.utf8.prefix(valueSize)))
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            return z ^ (z >> 27)
        }
    }

    static func produceDecode() throws {
        let batch = try RecordBatchBuilder().build(sampleRecords(totalBytes: 1 << 20))
        let request = ProduceRequest(
            acks: -1, timeoutMs: 30_000,
            topicData: [
                .init(name: "bench", partitionData: [.init(index: 0, records: .bytes(batch))])
            ])
        let frame = try RequestCodec.encode(request: request, version: 9, correlationId: 1, clientId: "bench")
        let seconds = try measure {
            let decoded = try RequestCodec.decode(frame: frame)
            let produce = decoded.body as! ProduceRequest
            for topic in produce.topicData {
                for partition in topic.partitionData {
                    for batch in try RecordBatch.batches(in: partition.records?.bytes ?? []) { try batch.validate() }
                }
            }
        }
        row("Produce v9 decode + CRC validation", bytes: frame.count, seconds: seconds)
    }

    static func crcAlone() throws {
        let data = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761) }
        var sink: UInt32 = 0
        let seconds = measure { sink ^= CRC32C.checksum(data) }
        row("CRC32C (\(CRC32C.usesHardware ? "crc32 instruction" : "portable"))", bytes: data.count, seconds: seconds)
        if sink == 42 { print("") }
    }

    static func metadataEncode() throws {
        let partitions = (0..<1_000).map { index in
            MetadataResponse.MetadataResponsePartition(
                partitionIndex: Int32(index), leaderId: 1, leaderEpoch: 0,
                replicaNodes: [1], isrNodes: [1], offlineReplicas: [])
        }
        let response = MetadataResponse(
            brokers: [.init(nodeId: 1, host: "127.0.0.1", port: 9092)], clusterId: "bench", controllerId: 1,
            topics: (0..<10).map { topic in
                .init(name: "topic-\(topic)", topicId: Uuid.random(), partitions: Array(partitions[(topic * 100)..<(topic * 100 + 100)]))
            })
        var size = 0
        let seconds = try measure { size = try RequestCodec.encode(response: response, version: 12, correlationId: 1).count }
        row("Metadata v12 encode, 1,000 partitions", bytes: 0, seconds: seconds)
        _ = size
    }

    static func decompression() throws {
        var builder = RecordBatchBuilder()
        let records = sampleRecords(totalBytes: 1 << 20)
        builder.compression = .none
        let plain = try builder.build(records)
        let payload = Array(plain[RecordBatchLayout.recordsStart...])
        for codec in CompressionCodec.allCases where codec != .none {
            let compressed = try Compression.compress(payload, codec: codec)
            let seconds = try measure { _ = try Compression.decompress(compressed[...], codec: codec) }
            row(
                "\(codec) decompress (ratio \(format(Double(payload.count) / Double(compressed.count))))",
                bytes: payload.count, seconds: seconds)
        }
        // What produce does with every batch: inflate a piece at a time and walk the records'
        // length prefixes, keeping nothing.
        for codec in CompressionCodec.allCases {
            builder.compression = codec
            let batch = try RecordBatch(bytes: try builder.build(records))
            let seconds = try measure { try batch.validateRecordFraming() }
            row("\(codec) record framing check on produce", bytes: payload.count, seconds: seconds)
        }
        // The load benchmark's records: 100 B values, some 9,000 to the mebibyte.
        builder.compression = .none
        let small = try RecordBatch(bytes: try builder.build(sampleRecords(totalBytes: 1 << 20, valueSize: 100)))
        row("none record framing check, 100 B records", bytes: small.totalSize, seconds: try measure { try small.validateRecordFraming() })
    }
}
