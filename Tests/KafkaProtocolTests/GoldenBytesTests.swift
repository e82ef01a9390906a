// Bytes real clients sent (captured by Interop/golden/capture.py from kcat, confluent-kafka,
// kafka-python and aiokafka): every request decodes and re-encodes byte for byte, and every
// produced batch decodes to exactly the records the client was given.

import Foundation
import KafkaProtocol
import KafkaRecords
import KafkaWire
import Testing

let goldenFolder =
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path + "/Interop/golden"

struct GoldenFile: Sendable, CustomStringConvertible {
    let path: String
    let apiKey: Int16
    let apiVersion: Int16
    let correlationId: Int32
    let clientId: String?
    let responsePath: String?
    /// Raw manifest entry of a Produce file, as JSON text (Sendable).
    let produceJSON: String?

    var description: String { path }

    static func all() throws -> [GoldenFile] {
        let data = try Data(contentsOf: URL(fileURLWithPath: goldenFolder + "/manifest.json"))
        let manifest = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return (manifest["files"] as! [[String: Any]]).map { entry in
            let produce = entry["produce"].flatMap { try? JSONSerialization.data(withJSONObject: $0) }
            return GoldenFile(
                path: entry["file"] as! String, apiKey: Int16(entry["api_key"] as! Int),
                apiVersion: Int16(entry["api_version"] as! Int),
                correlationId: Int32(entry["correlation_id"] as! Int),
                clientId: entry["client_id"] as? String,
                responsePath: entry["response_file"] as? String,
                produceJSON: produce.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: goldenFolder + "/" + relative)))
    }
}

@Suite struct GoldenBytesTests {
    static let files = (try? GoldenFile.all()) ?? []

    @Test func theCaptureCoversEveryClientAndTheCoreApis() {
        let clients = Set(Self.files.map { $0.path.split(separator: "/")[0] })
        #expect(clients == ["kcat", "confluent-kafka", "kafka-python", "aiokafka"])
        for client in ["kcat", "confluent-kafka"] {
            let apis = Set(Self.files.filter { $0.path.hasPrefix(client + "/") }.map(\.apiKey))
            for required: ApiKey in [.apiVersions, .metadata, .produce, .fetch, .joinGroup, .offsetCommit, .initProducerId] {
                #expect(apis.contains(required.rawValue), "\(client) has no \(required.name)")
            }
        }
    }

    @Test(arguments: files)
    func requestDecodesAndReencodesExactly(file: GoldenFile) throws {
        let frame = try file.bytes(file.path)
        let decoded = try RequestCodec.decode(frame: frame)
        #expect(decoded.apiKey.rawValue == file.apiKey && decoded.apiVersion == file.apiVersion)
        #expect(decoded.correlationId == file.correlationId && decoded.header.clientId == file.clientId)
        var writer = ByteWriter()
        try decoded.header.encode(into: &writer, version: decoded.apiKey.requestHeaderVersion(file.apiVersion))
        try decoded.body.encode(into: &writer, version: file.apiVersion)
        #expect(writer.bytes == frame)
    }

    @Test(arguments: files.filter { $0.responsePath != nil && !$0.path.contains("ApiVersions-v3") && !$0.path.contains("ApiVersions-v4") })
    func mockResponseDecodes(file: GoldenFile) throws {
        // The librdkafka mock's answers: what these clients accepted. Decoding them checks the
        // response side of the codec against bytes we did not write.
        let frame = try file.bytes(file.responsePath!)
        let apiKey = try #require(ApiKey(rawValue: file.apiKey))
        var reader = ByteReader(frame)
        let header = try ResponseHeader(from: &reader, version: apiKey.responseHeaderVersion(file.apiVersion))
        #expect(header.correlationId == file.correlationId)
        _ = try apiKey.responseType.init(from: &reader, version: file.apiVersion)
        // The librdkafka 2.16 mock writes one stray byte after Metadata v13's ErrorCode and
        // tagged fields (every field before it decodes as Kafka's schema says).
        let mockQuirk = file.path == "confluent-kafka/Metadata-v13-1.request.bin" ? 1 : 0
        #expect(reader.remaining == mockQuirk, "\(reader.remaining) bytes left")
    }

    @Test(arguments: files.filter { $0.produceJSON != nil })
    func producedBatchesHoldTheSentRecords(file: GoldenFile) throws {
        let expected = try JSONSerialization.jsonObject(with: Data(file.produceJSON!.utf8)) as! [String: Any]
        let decoded = try RequestCodec.decode(frame: try file.bytes(file.path))
        let produce = try #require(decoded.body as? ProduceRequest)
        #expect(produce.acks == Int16(expected["acks"] as! Int))
        #expect(produce.transactionalId == expected["transactional_id"] as? String)
        for partition in expected["partitions"] as! [[String: Any]] {
            let topic = try #require(produce.topicData.first { $0.name == partition["topic"] as? String })
            let data = try #require(topic.partitionData.first { $0.index == Int32(partition["partition"] as! Int) })
            let batches = try RecordBatch.batches(in: data.records?.bytes ?? [])
            #expect(batches.count == 1, "Produce v3+ carries exactly one batch per partition")
            let batch = try #require(batches.first)
            try batch.validate()
            #expect(batch.compression?.description == partition["compression"] as? String)
            let records = try batch.records()
            let sent = partition["records"] as! [[String: Any]]
            #expect(records.count == sent.count)
            for (record, want) in zip(records, sent) {
                #expect(record.key.map { String(decoding: $0, as: UTF8.self) } == want["key"] as? String)
                #expect(record.value.map { String(decoding: $0, as: UTF8.self) } == want["value"] as? String)
                #expect(record.timestamp == Int64(want["timestamp"] as! Int))
                let headers = (want["headers"] as! [[Any]]).map { pair in
                    RecordHeader(key: pair[0] as! String, value: (pair[1] as? String).map { Array($0.utf8) })
                }
                #expect(record.headers == headers)
            }
        }
    }
}
