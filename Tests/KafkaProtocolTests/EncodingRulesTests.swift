// Kafka's encoding rules that clients depend on: default tagged fields are not written,
// unknown tagged fields survive, values a version cannot carry are refused, header
// versions follow flexibility (ApiVersions' response header is always v0).

import KafkaProtocol
import KafkaWire
import Testing

@Suite struct EncodingRulesTests {
    @Test func defaultTaggedFieldsAreNotWritten() throws {
        // librdkafka 2.0.2 (Debian's kcat) cannot parse an ApiVersions response carrying
        // default-valued tagged fields, so v3 must end with a zero tag count.
        let response = ApiVersionsResponse(
            errorCode: 0,
            apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)],
            throttleTimeMs: 0)
        let bytes = try response.encoded(version: 3)
        // int16 error, compact array (2) of [int16,int16,int16, tags 0], int32 throttle, tags 0
        #expect(bytes == [0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0])
    }

    @Test func nonDefaultTaggedFieldIsWritten() throws {
        var response = ApiVersionsResponse()
        response.finalizedFeaturesEpoch = 7
        let bytes = try response.encoded(version: 3)
        let decoded = try ApiVersionsResponse(bytes: bytes, version: 3)
        #expect(decoded.finalizedFeaturesEpoch == 7)
        #expect(bytes.count > 8)
    }

    @Test func unknownTaggedFieldsRoundTrip() throws {
        var request = MetadataRequest()
        request.topics = nil
        request.unknownTaggedFields = [RawTaggedField(tag: 90, data: [1, 2, 3])]
        let bytes = try request.encoded(version: 12)
        let decoded = try MetadataRequest(bytes: bytes, version: 12)
        #expect(decoded.unknownTaggedFields == request.unknownTaggedFields)
        #expect(try decoded.encoded(version: 12) == bytes)
    }

    @Test func valueAVersionCannotCarryIsRefused() throws {
        // ProduceResponse's CurrentLeader is a non-ignorable tagged field from v10; encoding
        // it at v9 would silently lose it, so the encoder throws instead.
        var partition = ProduceResponse.PartitionProduceResponse()
        partition.currentLeader = .init(leaderId: 1, leaderEpoch: 2)
        let response = ProduceResponse(responses: [.init(name: "t", partitionResponses: [partition])])
        #expect(throws: EncodeError.fieldNotInVersion(message: "PartitionProduceResponse", field: "CurrentLeader", version: 9)) {
            try response.encoded(version: 9)
        }
        let decoded = try ProduceResponse(bytes: try response.encoded(version: 10), version: 10)
        #expect(decoded.responses[0].partitionResponses[0].currentLeader.leaderEpoch == 2)
        // A non-ignorable regular field: JoinGroup's GroupInstanceId starts at v5.
        var join = JoinGroupRequest()
        join.groupInstanceId = "instance-1"
        #expect(throws: EncodeError.fieldNotInVersion(message: "JoinGroupRequest", field: "GroupInstanceId", version: 4)) {
            try join.encoded(version: 4)
        }
        _ = try join.encoded(version: 5)
    }

    @Test func ignorableFieldIsDroppedSilently() throws {
        // ProduceResponse.LogStartOffset is ignorable and starts at v5.
        var partition = ProduceResponse.PartitionProduceResponse()
        partition.logStartOffset = 42
        let response = ProduceResponse(responses: [.init(name: "t", partitionResponses: [partition])])
        let decoded = try ProduceResponse(bytes: try response.encoded(version: 3), version: 3)
        #expect(decoded.responses[0].partitionResponses[0].logStartOffset == -1)
    }

    @Test func nullWhereAVersionForbidsItIsRefused() throws {
        // MetadataRequest.Topics is nullable only from v1.
        var request = MetadataRequest()
        request.topics = nil
        #expect(throws: EncodeError.self) { try request.encoded(version: 0) }
        #expect(try MetadataRequest(bytes: try request.encoded(version: 1), version: 1).topics == nil)
    }

    @Test func unsupportedVersionIsATypedError() {
        #expect(throws: DecodeError.unsupportedVersion(message: "ProduceRequest", version: 2)) {
            try ProduceRequest(bytes: [], version: 2)
        }
        #expect(throws: EncodeError.unsupportedVersion(message: "FetchRequest", version: 19)) {
            try FetchRequest().encoded(version: 19)
        }
    }

    @Test func headerVersionsFollowFlexibility() {
        #expect(ApiKey.metadata.requestHeaderVersion(8) == 1)
        #expect(ApiKey.metadata.requestHeaderVersion(9) == 2)
        #expect(ApiKey.metadata.responseHeaderVersion(9) == 1)
        #expect(ApiKey.apiVersions.requestHeaderVersion(3) == 2)
        #expect(ApiKey.apiVersions.responseHeaderVersion(3) == 0)
        #expect(ApiKey.saslHandshake.requestHeaderVersion(1) == 1)
    }

    @Test func requestHeaderClientIdStaysClassicInFlexibleVersions() throws {
        let header = RequestHeader(requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: "kcat")
        let bytes = try header.encoded(version: 2)
        // int16 key, int16 version, int32 correlation, int16 length "kcat", tag count 0
        #expect(bytes == [0, 18, 0, 3, 0, 0, 0, 1, 0, 4, 0x6B, 0x63, 0x61, 0x74, 0])
    }

    @Test func hostileLengthsAreErrorsNotAllocations() {
        // MetadataRequest v1 whose topic array claims two billion entries in 4 bytes.
        #expect(throws: DecodeError.self) {
            try MetadataRequest(bytes: [0x7F, 0xFF, 0xFF, 0xFF], version: 1)
        }
        // A compact string claiming 2^28 bytes.
        #expect(throws: DecodeError.self) {
            try FindCoordinatorRequest(bytes: [0xFF, 0xFF, 0xFF, 0x7F], version: 3)
        }
    }
}
