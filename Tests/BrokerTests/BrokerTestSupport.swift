// The broker in-process, in memory mode on an ephemeral port, and a client that speaks
// typed Kafka requests to it over a real socket.

import KafkaProtocol
import KafkaWire
import Logging
import Reactor
import SwiftletEmbedded
import SystemCalls
import TestSupport

@testable import Broker

final class KafkaTestClient {
    let connection: TestClient
    private var nextCorrelationId: Int32 = 1

    init(_ address: SocketAddress) throws { connection = try TestClient(address) }

    /// Sends `request` at `version` and decodes the response.
    func send<Request: KafkaRequest>(_ request: Request, version: Int16) throws -> Request.Response {
        let correlationId = try sendOnly(request, version: version)
        guard let frame = try connection.readFrame() else { throw TestFailure(description: "connection closed") }
        let (received, response) = try RequestCodec.decodeResponse(Request.Response.self, frame: frame, version: version)
        guard received == correlationId else { throw TestFailure(description: "correlation id \(received), expected \(correlationId)") }
        return response
    }

    @discardableResult
    func sendOnly<Request: KafkaRequest>(_ request: Request, version: Int16) throws -> Int32 {
        let correlationId = nextCorrelationId
        nextCorrelationId += 1
        try connection.sendFrame(
            try RequestCodec.encode(request: request, version: version, correlationId: correlationId, clientId: "broker-tests"))
        return correlationId
    }
}

func withBroker<Result>(
    _ configure: (inout BrokerConfiguration) -> Void = { _ in },
    logger: Logger = Logger(label: "tests", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ body: (Broker, SocketAddress) throws -> Result
) throws -> Result {
    let embedded = try EmbeddedBroker(.memory, configure: configure, logger: logger)
    defer { try? embedded.stop() }
    return try body(embedded.broker, SocketAddress(embedded.bootstrapServers)!)
}

func batch(_ values: [String], firstTimestamp: Int64 = 1_000) -> [UInt8] {
    try! RecordBatchBuilderShim.build(values, firstTimestamp: firstTimestamp)
}
