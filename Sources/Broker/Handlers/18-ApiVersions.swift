// ApiVersions (key 18): the versions each handler declares, nothing kept by hand. A version
// the broker does not know gets a v0 body with UNSUPPORTED_VERSION and the ApiVersions range
// (KIP-511), which every client can parse whatever it sent.

import KafkaProtocol
import KafkaWire

struct ApiVersionsHandler: ApiHandler {
    typealias Request = ApiVersionsRequest
    let advertised: ClosedRange<Int16> = 0...4

    func handle(_ request: ApiVersionsRequest, _ context: RequestContext<ApiVersionsRequest>) {
        var response = ApiVersionsResponse(errorCode: ErrorCode.none.rawValue, apiKeys: context.broker.handlers.advertisedVersions)
        if context.version >= 3 {
            if Self.isValidSoftwareField(request.clientSoftwareName) && Self.isValidSoftwareField(request.clientSoftwareVersion) {
                // What the console and telemetry name the client by (KIP-511); the session is
                // the connection's, and this handler runs on its loop.
                context.session.clientSoftwareName = request.clientSoftwareName
                context.session.clientSoftwareVersion = request.clientSoftwareVersion
            } else {
                response.errorCode = ErrorCode.invalidRequest.rawValue
            }
        }
        context.send(response)
    }

    /// Kafka's pattern for client software names and versions:
    /// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
    static func isValidSoftwareField(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool {
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57)
        }
        guard let first = bytes.first, let last = bytes.last, alphanumeric(first), alphanumeric(last) else { return false }
        return bytes.allSatisfy { alphanumeric($0) || $0 == 45 || $0 == 46 }
    }

    /// Header v0 and a v0 body, for any ApiVersions version the broker does not serve.
    static func unsupportedVersionResponse(header: RequestHeader, registry: HandlerRegistry) -> [UInt8] {
        let response = ApiVersionsResponse(
            errorCode: ErrorCode.unsupportedVersion.rawValue,
            apiKeys: registry.advertisedVersions.filter { $0.apiKey == ApiKey.apiVersions.rawValue })
        var writer = ByteWriter()
        try! ResponseHeader(correlationId: header.correlationId).encode(into: &writer, version: 0)
        try! response.encode(into: &writer, version: 0)
        return writer.takeBytes()
    }
}
