// Request framing: every api's sample request decodes from a full frame, unknown keys and
// versions are typed errors that keep the header (so the broker can answer), and a few
// hundred thousand mutated frames go through the decoder without a trap.

import KafkaProtocol
import KafkaWire
import TestSupport
import Testing

/// One frame per (api, version): header + sample body, as a client would send it.
func sampleRequestFrames() throws -> [(apiKey: ApiKey, version: Int16, frame: [UInt8])] {
    var frames: [(ApiKey, Int16, [UInt8])] = []
    for apiKey in ApiKey.allCases {
        let sampled = apiKey.requestType as! any Sampled.Type
        for version in apiKey.validVersions {
            let request = sampled.sample(version: version, seed: Int(version)) as! any KafkaRequest
            frames.append(
                (
                    apiKey, version,
                    try RequestCodec.encode(
                        request: request, version: version,
                        correlationId: 77, clientId: "test")
                ))
        }
    }
    return frames
}

@Suite struct RequestCodecTests {
    @Test func everySampleFrameDecodes() throws {
        let frames = try sampleRequestFrames()
        #expect(frames.count > 250)
        for (apiKey, version, frame) in frames {
            let decoded = try RequestCodec.decode(frame: frame)
            #expect(decoded.apiKey == apiKey && decoded.apiVersion == version)
            #expect(decoded.correlationId == 77 && decoded.header.clientId == "test")
            let reencoded = try RequestCodec.encode(request: decoded.body, version: version, correlationId: 77, clientId: "test")
            #expect(reencoded == frame, "\(apiKey) v\(version)")
        }
    }

    @Test func unknownApiKeyKeepsTheHeader() throws {
        let frame: [UInt8] = [0x03, 0xE7, 0, 0, 0, 0, 0, 9, 0xFF, 0xFF]  // key 999, v0, corr 9, null client
        #expect {
            try RequestCodec.decode(frame: frame)
        } throws: { error in
            guard case RequestDecodeError.unknownApiKey(let header) = error else { return false }
            return header.correlationId == 9 && header.requestApiKey == 999
        }
    }

    @Test func unsupportedApiVersionsVersionReadsAFlexibleHeader() throws {
        // ApiVersions v9 (newer than any broker): the header is still v2, so the broker can
        // read the correlation id and answer with a v0 body (KIP-511).
        var writer = ByteWriter()
        try RequestHeader(requestApiKey: 18, requestApiVersion: 9, correlationId: 5, clientId: "future")
            .encode(into: &writer, version: 2)
        writer.writeBytes([0x00, 0x00, 0x00])  // whatever a v9 body is
        #expect {
            try RequestCodec.decode(frame: writer.bytes)
        } throws: { error in
            guard case RequestDecodeError.unsupportedVersion(let header, let apiKey) = error else { return false }
            return apiKey == .apiVersions && header.correlationId == 5 && header.clientId == "future"
        }
    }

    @Test func truncatedHeaderIsMalformed() {
        #expect(throws: RequestDecodeError.self) { try RequestCodec.decode(frame: [0, 3, 0]) }
    }

    @Test func trailingBytesAreIgnoredAsKafkaDoes() throws {
        // librdkafka 2.16's all-topics Metadata v13 request, as captured from the client:
        // three bytes follow the body, and Kafka answers it all the same.
        let frame: [UInt8] =
            [0x00, 0x03, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07] + Array("rdkafka".utf8)
            + [0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        let decoded = try RequestCodec.decode(frame: frame)
        let metadata = try #require(decoded.body as? MetadataRequest)
        #expect(metadata.topics == nil && decoded.trailingBytes == 3)
    }

    @Test func responseFramingRoundTrips() throws {
        let response = ApiVersionsResponse(errorCode: 0, apiKeys: [.init(apiKey: 3, minVersion: 0, maxVersion: 13)])
        let frame = try RequestCodec.encode(response: response, version: 3, correlationId: 42)
        // ApiVersions keeps response header v0 (no tagged fields after the correlation id).
        #expect(Array(frame.prefix(6)) == [0, 0, 0, 42, 0, 0])
        let (correlationId, decoded) = try RequestCodec.decodeResponse(ApiVersionsResponse.self, frame: frame, version: 3)
        #expect(correlationId == 42 && decoded == response)
    }

    @Test func mutatedFramesNeverTrap() throws {
        let frames = try sampleRequestFrames()
        var generator = SplitMix64(seed: 0xF00D)
        var outcomes = (decoded: 0, rejected: 0)
        let iterations = 300_000
        for iteration in 0..<iterations {
            var frame = frames[iteration % frames.count].frame
            mutate(&frame, using: &generator)
            do {
                _ = try RequestCodec.decode(frame: frame)
                outcomes.decoded += 1
            } catch {
                outcomes.rejected += 1
            }
        }
        #expect(outcomes.decoded + outcomes.rejected == iterations)
        #expect(outcomes.rejected > iterations / 10)
    }
}

@Suite struct ExternalRecordsTests {
    @Test func externalRecordsLeaveGapsThatSplicingFills() throws {
        let first: [UInt8] = Array(0..<100)
        let second: [UInt8] = Array(repeating: 7, count: 300)
        func response(_ a: RecordsPayload, _ b: RecordsPayload) -> FetchResponse {
            FetchResponse(responses: [
                .init(
                    topic: "t",
                    partitions: [
                        .init(partitionIndex: 0, highWatermark: 1, records: a),
                        .init(partitionIndex: 1, highWatermark: 2, records: b),
                    ])
            ])
        }
        for version: Int16 in [4, 11, 12, 16] {
            let inline = try RequestCodec.encode(response: response(.bytes(first), .bytes(second)), version: version, correlationId: 3)
            let (gapped, splices) = try RequestCodec.encodeWithSplices(
                response: response(.external(length: 100, id: 0), .external(length: 300, id: 1)), version: version, correlationId: 3)
            #expect(splices.map(\.id) == [0, 1] && splices.map(\.length) == [100, 300])
            // Filling each gap with its bytes gives exactly the inline encoding.
            var spliced: [UInt8] = []
            var start = 0
            for (splice, bytes) in zip(splices, [first, second]) {
                spliced += gapped[start..<splice.offset] + bytes
                start = splice.offset
            }
            spliced += gapped[start...]
            #expect(spliced == inline, "v\(version)")
        }
    }
}
