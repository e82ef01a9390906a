// Which API versions the broker serves, declared by each handler beside its code; the
// ApiVersions response is derived from this table, never kept by hand.

import KafkaProtocol
import Reactor
import SystemCalls

/// Everything a handler needs to answer one request, typed by that request so that only its
/// response can be sent.
struct RequestContext<Request: KafkaRequest>: Sendable {
    let broker: Broker
    let header: RequestHeader
    let responder: Responder
    let eventLoop: EventLoop
    /// The client's address as Kafka prints it ("/127.0.0.1"), for group member listings.
    let clientHost: String
    /// The connection's listener, principal and SASL state (loop-only).
    let session: ConnectionSession
    /// The connection's principal when the request arrived (read on its loop, so that a
    /// handler on the admin thread does not touch the session).
    let principal: String
    /// request_percentage: how long the client is to wait, from its requests' time so far
    /// (0 without a quota); the response's throttle_time_ms is at least this.
    let requestThrottleMilliseconds: Int32
    /// The connection's loop's counters (nil: metrics off), and when the request arrived and
    /// its handler started (monotonic ns), for the queue and handler times.
    let metrics: ReactorMetrics?
    let receivedAt: UInt64
    var startedAt: UInt64
    /// The listener the client connected to (an index into the broker's).
    var listener: Int { session.listener }

    var version: Int16 { header.requestApiVersion }
    var clientId: String { header.clientId ?? "" }

    /// Encodes `response` at the request's version, with its correlation id. Records given
    /// as `.external(length, id)` go out as `regions[id]`, with sendfile. From any thread: an
    /// answer from elsewhere (the admin thread, a parked JoinGroup released by another
    /// member) hops to the connection's loop.
    func send(_ response: Request.Response, regions: [FileRegion] = []) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { send(response, regions: regions) }
            return
        }
        var response = response
        if requestThrottleMilliseconds > 0, var throttled = response as? any ThrottledResponse {
            throttled.throttleTimeMs = max(throttled.throttleTimeMs, requestThrottleMilliseconds)
            response = throttled as! Request.Response
        }
        if let metrics {
            let now = System.monotonicNanoseconds()
            metrics.responded(
                response, apiKey: Request.apiKey.rawValue, version: version, queueNanoseconds: startedAt &- receivedAt,
                handlerNanoseconds: now &- startedAt)
        }
        do {
            let (bytes, splices) = try RequestCodec.encodeWithSplices(
                response: response, version: version, correlationId: header.correlationId)
            guard !splices.isEmpty else {
                respond([.bytes(bytes)])
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
            respond(parts)
        } catch {
            // A handler built a response its version cannot carry: a bug, not the client's.
            broker.log("cannot encode \(Request.Response.self) v\(version): \(error); closing the connection")
            responder.closeConnection()
        }
    }

    /// With metrics on, the reactor reports when the response is written (its send time).
    private func respond(_ parts: [ResponsePart]) {
        if metrics != nil {
            responder.respond(parts, measuredAs: UInt16(bitPattern: Request.apiKey.rawValue))
        } else {
            responder.respond(parts)
        }
    }

    /// Whether the connection's principal may do `operation` on the resource; always, without
    /// an authorizer (one optional check, nothing measurable).
    /// A refusal is logged (rate-limited) with the principal, as Kafka's authorizer logger
    /// does; checks that only filter what a listing shows pass `logIfDenied: false`.
    func authorized(_ operation: AclOperation, _ type: ResourceType, _ name: String, logIfDenied: Bool = true) -> Bool {
        guard let authorizer = broker.authorizer else { return true }
        let host = String(clientHost.drop { $0 == "/" })
        let allowed = authorizer.authorize(principal: principal, host: host, operation: operation, resourceType: type, name: name)
        if !allowed && logIfDenied {
            broker.logClientProblem(
                "authorization",
                "Principal = \(principal) is Denied operation = \(operation.kafkaName) from host = \(host) on resource = \(type.kafkaName):\(name) for request = \(Request.apiKey.name)"
            )
        }
        return allowed
    }

    /// Whether the principal may do `operation` on some resource of the type (Kafka's
    /// authorizeByResourceType).
    func authorizedOnSome(_ operation: AclOperation, _ type: ResourceType) -> Bool {
        guard let authorizer = broker.authorizer else { return true }
        return authorizer.authorizeOnSome(
            principal: principal, host: String(clientHost.drop { $0 == "/" }), operation: operation, resourceType: type)
    }

    /// The operations the principal may do on the resource, as the bitfield the
    /// `*_authorized_operations` fields carry (bit n: operation code n), among those Kafka
    /// defines for the resource type.
    func authorizedOperations(_ type: ResourceType, _ name: String) -> Int32 {
        let operations: [AclOperation] =
            switch type {
            case .topic: [.read, .write, .create, .delete, .alter, .describe, .describeConfigs, .alterConfigs]
            case .group: [.read, .describe, .delete]
            case .cluster: [.create, .clusterAction, .describeConfigs, .alterConfigs, .idempotentWrite, .alter, .describe]
            case .transactionalId: [.describe, .write]
            default: []
            }
        return operations.reduce(Int32(0)) { bits, operation in
            authorized(operation, type, name, logIfDenied: false) ? bits | (Int32(1) << Int32(operation.rawValue)) : bits
        }
    }

    /// DESCRIBE_CONFIGS or ALTER_CONFIGS on a config resource: the topic, or the cluster for
    /// broker configs; Kafka's refusal code, or nil when allowed.
    func configsRefusal(_ operation: AclOperation, resourceType: Int8, name: String) -> ErrorCode? {
        if resourceType == ConfigResourceType.topic.rawValue {
            return authorized(operation, .topic, name) ? nil : .topicAuthorizationFailed
        }
        return authorized(operation, .cluster, clusterResourceName) ? nil : .clusterAuthorizationFailed
    }

    /// controller_mutation_rate for `partitions` created or deleted by this request: whether
    /// they may be (a version from `strictSince` on is refused when over the quota, an older
    /// one admitted and throttled), and the throttle time, for which the connection is muted.
    func recordMutations(_ partitions: Int, strictSince: Int16) -> (admitted: Bool, throttleMilliseconds: Int32) {
        guard !broker.quotas.isEmpty else { return (true, 0) }
        let user = ClientQuotas.user(of: principal)
        let decision = broker.quotas.recordMutations(
            partitions, user: user, clientId: clientId, strict: version >= strictSince, now: System.wallClockMilliseconds())
        if decision.throttleMilliseconds > 0 { responder.muteConnection(forMilliseconds: Int(decision.throttleMilliseconds)) }
        return decision
    }

    /// Records `bytes` against the client's byte-rate `quota` and, when it is over, mutes
    /// the connection for the throttle time, which it returns for the response.
    func throttle(bytes: Int, quota: String, now: Int64) -> Int32 {
        guard bytes > 0, !broker.quotas.isEmpty else { return 0 }  // the hot path without quotas
        let user = ClientQuotas.user(of: principal)
        let milliseconds = broker.quotas.record(bytes: bytes, user: user, clientId: clientId, key: quota, now: now)
        if milliseconds > 0 { responder.muteConnection(forMilliseconds: Int(milliseconds)) }
        return milliseconds
    }

    /// Sends `response`, then closes the connection (on the connection's loop).
    func sendAndClose(_ response: Request.Response) {
        do {
            responder.respondAndClose([
                .bytes(try RequestCodec.encode(response: response, version: version, correlationId: header.correlationId))
            ])
        } catch {
            broker.log("cannot encode \(Request.Response.self) v\(version): \(error); closing the connection")
            responder.closeConnection()
        }
    }
}

/// The connection a request came on, as every handler's context carries it.
struct RequestOrigin: Sendable {
    let broker: Broker
    let responder: Responder
    let eventLoop: EventLoop
    let clientHost: String
    let session: ConnectionSession
    let requestThrottleMilliseconds: Int32
    let metrics: ReactorMetrics?
    let receivedAt: UInt64
}

protocol ApiHandler: Sendable {
    /// The request this handler answers; its api key is the handler's.
    associatedtype Request: KafkaRequest
    /// What ApiVersions advertises. May start below the schema's minimum where Kafka 4.x
    /// does (Produce from v0 for old librdkafka's feature checks).
    var advertised: ClosedRange<Int16> { get }
    /// True when this request creates or deletes files (a topic: a directory and three
    /// files per partition): it then runs on the broker's admin thread, so the reactor's
    /// other connections are not stalled. Answers still leave in request order.
    func runsOnAdminThread(_ request: Request, _ context: RequestContext<Request>) -> Bool
    func handle(_ request: Request, _ context: RequestContext<Request>)
}

extension ApiHandler {
    var apiKey: ApiKey { Request.apiKey }

    func runsOnAdminThread(_ request: Request, _ context: RequestContext<Request>) -> Bool { false }

    /// Hands a decoded request to `handle` as this handler's own type, on the admin thread
    /// when the handler asks for it. The registry chose this handler by the request's api key,
    /// so the body is of type `Request`; were it not (a bug), the connection is closed.
    func dispatch(_ decoded: DecodedRequest, from origin: RequestOrigin) {
        guard let request = decoded.body as? Request else {
            origin.broker.log(
                "\(decoded.apiKey.name) was decoded as \(type(of: decoded.body)), not \(Request.self); closing the connection")
            origin.responder.closeConnection()
            return
        }
        let context = RequestContext<Request>(
            broker: origin.broker, header: decoded.header, responder: origin.responder,
            eventLoop: origin.eventLoop, clientHost: origin.clientHost, session: origin.session,
            principal: origin.session.principal, requestThrottleMilliseconds: origin.requestThrottleMilliseconds,
            metrics: origin.metrics, receivedAt: origin.receivedAt, startedAt: origin.metrics == nil ? 0 : System.monotonicNanoseconds())
        if runsOnAdminThread(request, context) {
            origin.broker.adminWork.execute {
                // The wait for the admin thread is queue time.
                var started = context
                if started.metrics != nil { started.startedAt = System.monotonicNanoseconds() }
                handle(request, started)
            }
        } else {
            handle(request, context)
        }
    }
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
        SaslHandshakeHandler(), SaslAuthenticateHandler(), DescribeClientQuotasHandler(), AlterClientQuotasHandler(),
        DescribeQuorumHandler(), AlterReplicaLogDirsHandler(), AlterUserScramCredentialsHandler(),
        GetTelemetrySubscriptionsHandler(), PushTelemetryHandler(),
    ])

    /// With telemetry.enabled=false: KIP-714's APIs are not advertised, so clients push
    /// nothing (as Kafka without a telemetry plugin).
    static let withoutTelemetry = HandlerRegistry(
        handlers: standard.handlers.values.filter { ![ApiKey.getTelemetrySubscriptions, .pushTelemetry].contains($0.apiKey) })

    /// The ApiVersions entries: every handler's advertised range, by api key (computed once:
    /// a handler's api key comes from its request type, through its witness table).
    let advertisedVersions: [ApiVersionsResponse.ApiVersion]

    init(handlers list: [any ApiHandler]) {
        var table: [ApiKey: any ApiHandler] = [:]
        for handler in list { table[handler.apiKey] = handler }
        handlers = table
        advertisedVersions = table.sorted { $0.key.rawValue < $1.key.rawValue }.map { apiKey, handler in
            ApiVersionsResponse.ApiVersion(
                apiKey: apiKey.rawValue, minVersion: handler.advertised.lowerBound, maxVersion: handler.advertised.upperBound)
        }
    }

    func handler(for apiKey: ApiKey, version: Int16) -> (any ApiHandler)? {
        guard let handler = handlers[apiKey], handler.advertised.contains(version),
            apiKey.validVersions.contains(version)
        else { return nil }
        return handler
    }
}
