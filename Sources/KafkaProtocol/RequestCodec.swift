// Sans-IO request and response framing: a frame's bytes (without the 4-byte size) in, the
// header and typed body out; a response body in, header + body bytes out. The broker's
// connection code and the fuzz target both go through here.

import KafkaWire

/// A request that decoded: its header and its typed body.
public struct DecodedRequest: Sendable {
    public var header: RequestHeader
    public var apiKey: ApiKey
    public var body: any KafkaRequest
    /// Bytes after the body that the schema does not account for (ignored, as Kafka does).
    public var trailingBytes: Int = 0

    public var apiVersion: Int16 { header.requestApiVersion }
    public var correlationId: Int32 { header.correlationId }
}

/// Why a frame is not a request this codec can hand to a handler. Each case keeps what is
/// needed to answer the client, where Kafka answers at all.
public enum RequestDecodeError: Error, Sendable, CustomStringConvertible {
    /// Not even a header: Kafka closes the connection.
    case malformedHeader(DecodeError)
    /// An api key this broker does not know: Kafka closes the connection.
    case unknownApiKey(header: RequestHeader)
    /// A version outside the api's range. For ApiVersions the broker answers with a v0
    /// body and UNSUPPORTED_VERSION (KIP-511); for others Kafka closes the connection.
    case unsupportedVersion(header: RequestHeader, apiKey: ApiKey)
    /// The header was fine, the body was not: INVALID_REQUEST territory.
    case malformedBody(header: RequestHeader, apiKey: ApiKey, error: DecodeError)

    public var description: String {
        switch self {
        case .malformedHeader(let error):
            return "malformed request header: \(error)"
        case .unknownApiKey(let header):
            return "unknown api key \(header.requestApiKey) (correlation id \(header.correlationId))"
        case .unsupportedVersion(let header, let apiKey):
            return "\(apiKey.name) v\(header.requestApiVersion) is not supported (valid \(apiKey.validVersions))"
        case .malformedBody(let header, let apiKey, let error):
            return "malformed \(apiKey.name) v\(header.requestApiVersion) body: \(error)"
        }
    }
}

public enum RequestCodec {
    /// Decodes a request frame. The header version follows from the api key and version:
    /// header v2 for flexible versions (an unknown api's header is read as v1, which is all
    /// a client of an unknown api can expect).
    public static func decode(frame: [UInt8]) throws(RequestDecodeError) -> DecodedRequest {
        var reader = ByteReader(frame)
        let header: RequestHeader
        let apiKey: ApiKey?
        do {
            var peek = reader
            let rawKey = try peek.readInt16()
            let version = try peek.readInt16()
            apiKey = ApiKey(rawValue: rawKey)
            let headerVersion = apiKey?.requestHeaderVersion(version) ?? 1
            header = try RequestHeader(from: &reader, version: headerVersion)
        } catch {
            throw .malformedHeader(error)
        }
        guard let apiKey else { throw .unknownApiKey(header: header) }
        guard apiKey.validVersions.contains(header.requestApiVersion) else {
            throw .unsupportedVersion(header: header, apiKey: apiKey)
        }
        do throws(DecodeError) {
            let body = try apiKey.requestType.init(from: &reader, version: header.requestApiVersion)
            // Bytes after the body are ignored, as Kafka ignores them: librdkafka 2.16's
            // all-topics Metadata v13 request carries three (see Interop/golden).
            return DecodedRequest(header: header, apiKey: apiKey, body: body, trailingBytes: reader.remaining)
        } catch {
            throw .malformedBody(header: header, apiKey: apiKey, error: error)
        }
    }

    /// Encodes a request with its header, as a client sends it (without the size prefix).
    public static func encode<Request: KafkaRequest>(
        request: Request, version: Int16, correlationId: Int32, clientId: String?
    ) throws(EncodeError) -> [UInt8] {
        var writer = ByteWriter()
        let header = RequestHeader(
            requestApiKey: Request.apiKey.rawValue, requestApiVersion: version,
            correlationId: correlationId, clientId: clientId)
        try header.encode(into: &writer, version: Request.apiKey.requestHeaderVersion(version))
        try request.encode(into: &writer, version: version)
        return writer.takeBytes()
    }

    /// Encodes a response with its header (without the size prefix).
    public static func encode<Response: KafkaResponse>(
        response: Response, version: Int16, correlationId: Int32
    ) throws(EncodeError) -> [UInt8] {
        try encodeWithSplices(response: response, version: version, correlationId: correlationId).bytes
    }

    /// As `encode`, also returning where external records bytes belong (in frame offsets):
    /// the sender interleaves them, as file regions, with the encoded bytes.
    public static func encodeWithSplices<Response: KafkaResponse>(
        response: Response, version: Int16, correlationId: Int32
    ) throws(EncodeError) -> (bytes: [UInt8], splices: [ExternalSplice]) {
        var writer = ByteWriter(capacity: 512)
        try ResponseHeader(correlationId: correlationId)
            .encode(into: &writer, version: Response.apiKey.responseHeaderVersion(version))
        try response.encode(into: &writer, version: version)
        let splices = writer.splices
        return (writer.takeBytes(), splices)
    }

    /// Decodes a response frame of a known api and version (the client side, and tests).
    public static func decodeResponse<Response: KafkaResponse>(
        _ type: Response.Type, frame: [UInt8], version: Int16
    ) throws(DecodeError) -> (correlationId: Int32, response: Response) {
        var reader = ByteReader(frame)
        let header = try ResponseHeader(from: &reader, version: Response.apiKey.responseHeaderVersion(version))
        let response = try Response(from: &reader, version: version)
        if !reader.isAtEnd {
            throw .invalidValue(offset: reader.position, reason: "\(reader.remaining) bytes after the response")
        }
        return (header.correlationId, response)
    }
}
