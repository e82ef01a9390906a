// Which API versions the broker serves, declared by each handler beside its code; the
// ApiVersions response is derived from this table, never kept by hand.

import KafkaProtocol
import Reactor

/// Everything a handler needs to answer one request.
struct RequestContext: Sendable {
    let broker: Broker
    let request: DecodedRequest
    let responder: Responder
    let eventLoop: EventLoop
    /// The client's address as Kafka prints it ("/127.0.0.1"), for group member listings.
    let clientHost: String

    var version: Int16 { request.apiVersion }
    var clientId: String { request.header.clientId ?? "" }

    /// Encodes `response` at the request's version, with its correlation id. Records given
    /// as `.external(length, id)` go out as `regions[id]`, with sendfile. From any thread: an
    /// answer from elsewhere (the admin thread, a parked JoinGroup released by another
    /// member) hops to the connection's loop.
    func send<Response: KafkaResponse>(_ response: Response, regions: [FileRegion] = []) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { send(response, regions: regions) }
            return
        }
        do {
            let (bytes, splices) = try RequestCodec.encodeWithSplices(response: response, version: version, correlationId: request.correlationId)
            guard !splices.isEmpty else {
                responder.respond(bytes)
                return
            }
            var parts: [ResponsePart] = []
            var start = 0
            for splice in splices {
                if splice.offset > start { parts.append(.bytes(Array(bytes[start..<splice.offset]))) }
                parts.append(.file(regions[splice.id]))
                start = splice.offset
            }
            if start < bytes.count { parts.append(.bytes(Array(bytes[start...]))) }
            responder.respond(parts)
        } catch {
            // A handler built a response its version cannot carry: a bug, not the client's.
            broker.log("cannot encode \(Response.self) v\(version): \(error); closing the connection")
            responder.closeConnection()
        }
    }
}

protocol ApiHandler: Sendable {
    /// What ApiVersions advertises. May start below the schema's minimum where Kafka 4.x
    /// does (Produce from v0 for old librdkafka's feature checks).
    var advertised: ClosedRange<Int16> { get }
    /// What the handler accepts: the advertised range clipped to what the schema decodes.
    var apiKey: ApiKey { get }
    /// True when this request creates or deletes files (a topic: a directory and three
    /// files per partition): it then runs on the broker's admin thread, so the reactor's
    /// other connections are not stalled. Answers still leave in request order.
    func runsOnAdminThread(_ context: RequestContext) -> Bool
    func handle(_ context: RequestContext)
}

extension ApiHandler {
    func runsOnAdminThread(_ context: RequestContext) -> Bool { false }
}

struct HandlerRegistry: Sendable {
    let handlers: [ApiKey: any ApiHandler]

    static let standard = HandlerRegistry(handlers: [
        ApiVersionsHandler(), MetadataHandler(), ProduceHandler(), FetchHandler(), ListOffsetsHandler(),
        CreateTopicsHandler(), DeleteTopicsHandler(), InitProducerIdHandler(), CreatePartitionsHandler(),
        DeleteRecordsHandler(), OffsetForLeaderEpochHandler(), DescribeClusterHandler(), DescribeConfigsHandler(),
        AlterConfigsHandler(), IncrementalAlterConfigsHandler(), DescribeLogDirsHandler(), DescribeTopicPartitionsHandler(),
        FindCoordinatorHandler(), JoinGroupHandler(), SyncGroupHandler(), HeartbeatHandler(), LeaveGroupHandler(),
        OffsetCommitHandler(), OffsetFetchHandler(), OffsetDeleteHandler(), DescribeGroupsHandler(), ListGroupsHandler(),
        DeleteGroupsHandler(), ConsumerGroupHeartbeatHandler(), ConsumerGroupDescribeHandler(),
        AddPartitionsToTxnHandler(), AddOffsetsToTxnHandler(), EndTxnHandler(), TxnOffsetCommitHandler(),
        DescribeProducersHandler(), DescribeTransactionsHandler(), ListTransactionsHandler(), WriteTxnMarkersHandler(),
        DescribeAclsHandler(), CreateAclsHandler(), DeleteAclsHandler(), ElectLeadersHandler(),
        AlterPartitionReassignmentsHandler(), ListPartitionReassignmentsHandler(), DescribeUserScramCredentialsHandler(),
        DescribeQuorumHandler(), AlterReplicaLogDirsHandler(), AlterUserScramCredentialsHandler(),
    ])

    init(handlers list: [any ApiHandler]) {
        var table: [ApiKey: any ApiHandler] = [:]
        for handler in list { table[handler.apiKey] = handler }
        handlers = table
    }

    /// The ApiVersions entries: every handler's advertised range, by api key.
    var advertisedVersions: [ApiVersionsResponse.ApiVersion] {
        handlers.values.sorted { $0.apiKey.rawValue < $1.apiKey.rawValue }.map {
            ApiVersionsResponse.ApiVersion(apiKey: $0.apiKey.rawValue, minVersion: $0.advertised.lowerBound, maxVersion: $0.advertised.upperBound)
        }
    }

    func handler(for apiKey: ApiKey, version: Int16) -> (any ApiHandler)? {
        guard let handler = handlers[apiKey], handler.advertised.contains(version),
              apiKey.validVersions.contains(version) else { return nil }
        return handler
    }
}
