// One client connection as the broker sees it: frames in, decoded requests dispatched to
// their handlers; what Kafka cannot answer (unknown api, version, malformed header) closes
// the connection, except an ApiVersions version it does not know (KIP-511). On a SASL
// listener it gates what may come before authentication and after a session ends.

import Glibc
import KafkaProtocol
import KafkaWire
import Reactor
import Security
import SystemCalls

struct KafkaConnectionFactory: ConnectionHandlerFactory {
    let broker: Broker
    /// Which of the broker's listeners (an index into its configuration's).
    let listener: Int
    let tls: TLSContext?
    /// The listener's ssl.principal.mapping.rules, for client certificates.
    let principalMapping: PrincipalMappingRules

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler {
        KafkaConnection(broker: broker, info: connection, listener: listener, principalMapping: principalMapping)
    }
}

final class KafkaConnection: ConnectionHandler {
    let broker: Broker
    let info: ConnectionInfo
    let session: ConnectionSession

    let clientHost: String
    /// connection_creation_rate (KIP-612): this connection is one too many from its IP.
    let refusesConnection: Bool
    let principalMapping: PrincipalMappingRules
    /// This loop's counters, and this connection as they list it (nil: metrics off).
    let metrics: ReactorMetrics?
    let client: ConnectedClient?

    init(broker: Broker, info: ConnectionInfo, listener: Int, principalMapping: PrincipalMappingRules = .standard) {
        self.broker = broker
        self.info = info
        self.principalMapping = principalMapping
        session = ConnectionSession(listener: listener, requiresSasl: broker.configuration.listeners[listener].securityProtocol.usesSASL)
        metrics = broker.metrics.counters(of: info.eventLoop)
        client =
            metrics == nil
            ? nil
            : ConnectedClient(
                session: session, connection: info.id.description, peer: info.peer?.description ?? "unknown",
                connectedAtMilliseconds: System.wallClockMilliseconds())
        clientHost = "/" + (info.peer?.host ?? "unknown")
        let ip = info.peer?.host ?? ""
        refusesConnection = broker.quotas.recordConnection(ip: ip, now: System.wallClockMilliseconds())
        if refusesConnection {
            broker.logClientProblem("connection quota", "\(ip): over its connection_creation_rate; closing the connection")
        } else {
            broker.logger.debug("\(info.peer?.description ?? "client") on listener \(listenerName): connected")
        }
        if let client { metrics?.connectionOpened(client) }
    }

    func received(frame: [UInt8], responder: Responder) {
        let receivedAt = metrics == nil ? 0 : System.monotonicNanoseconds()
        switch session.sasl {
        case .awaitingRawToken(var exchange, let mechanism):
            // After SaslHandshake v0 the frame is a SASL token, not a request.
            let outcome = SaslAuthentication.step(
                &exchange, token: frame, session: session, mechanism: mechanism, broker: broker, client: clientHost)
            switch outcome {
            case .challenge(let bytes):
                session.sasl = .awaitingRawToken(exchange, mechanism: mechanism)
                responder.respond(bytes)
            case .success(let reply):
                responder.respond(reply)
            case .failure:
                // v0 has no error response: Kafka closes the connection, after the same delay.
                _ = info.eventLoop.schedule(afterMilliseconds: SaslAuthentication.failedAuthenticationDelayMilliseconds) {
                    responder.closeConnection()
                }
            }
            return
        case .failed:
            responder.closeConnection()
            return
        case .done, .awaitingHandshake, .awaitingAuthenticate:
            break
        }
        let request: DecodedRequest
        do {
            request = try RequestCodec.decode(frame: frame)
        } catch {
            if case .unsupportedVersion(let header, .apiVersions) = error {
                responder.respond(ApiVersionsHandler.unsupportedVersionResponse(header: header, registry: broker.handlers))
                return
            }
            broker.logClientProblem(
                "malformed request", "\(info.peer?.description ?? "client"): \(error); closing the connection", level: .warning)
            responder.closeConnection()
            return
        }
        if let expiry = session.sessionExpiry, ![ApiKey.saslHandshake, .saslAuthenticate].contains(request.apiKey),
            System.wallClockMilliseconds() > expiry
        {
            // KIP-368: the session ended without a re-authentication; Kafka closes.
            broker.logClientProblem(
                "expired session",
                "\(info.peer?.description ?? "client"): \(session.principal)'s SASL session expired; closing the connection")
            responder.closeConnection()
            return
        }
        if !session.isAuthenticated && ![ApiKey.apiVersions, .saslHandshake, .saslAuthenticate].contains(request.apiKey) {
            // Kafka's SaslServerAuthenticator: anything else before authentication is an
            // illegal SASL state, and the connection closes.
            broker.logClientProblem(
                "request before authentication",
                "\(info.peer?.description ?? "client"): \(request.apiKey.name) before SASL authentication; closing the connection")
            responder.closeConnection()
            return
        }
        guard let handler = broker.handlers.handler(for: request.apiKey, version: request.apiVersion) else {
            if request.apiKey == .apiVersions {
                responder.respond(ApiVersionsHandler.unsupportedVersionResponse(header: request.header, registry: broker.handlers))
                return
            }
            broker.logClientProblem(
                "unserved request",
                "\(info.peer?.description ?? "client"): \(request.apiKey.name) v\(request.apiVersion) is not served; closing the connection"
            )
            responder.closeConnection()
            return
        }
        if let metrics, let client {
            metrics.requestReceived(apiKey: request.apiKey.rawValue, version: request.apiVersion)
            client.requests += 1
            if client.clientId != request.header.clientId ?? "" { client.clientId = request.header.clientId ?? "" }
        }
        // request_percentage: the event loop's time a client's requests take, against its
        // share of a thread. Over it, the answer carries the throttle time its requests so far
        // call for, and the connection reads nothing for that long (KIP-124). Without quotas,
        // one atomic load.
        let metered =
            broker.quotas.isEmpty
            ? nil
            : (
                user: ClientQuotas.user(of: session.principal),
                clientId: request.header.clientId ?? "", started: System.monotonicNanoseconds()
            )
        let throttle =
            metered.map {
                broker.quotas.recordRequestTime(milliseconds: 0, user: $0.user, clientId: $0.clientId, now: System.wallClockMilliseconds())
            } ?? 0
        handler.dispatch(
            request,
            from: RequestOrigin(
                broker: broker, responder: responder, eventLoop: info.eventLoop, clientHost: clientHost, session: session,
                requestThrottleMilliseconds: throttle, metrics: metrics, receivedAt: receivedAt))
        if let metered {
            let milliseconds = Double(System.monotonicNanoseconds() - metered.started) / 1_000_000
            let after = broker.quotas.recordRequestTime(
                milliseconds: milliseconds, user: metered.user, clientId: metered.clientId, now: System.wallClockMilliseconds())
            if after > 0 { responder.muteConnection(forMilliseconds: Int(after)) }
        }
    }

    func responseWritten(tag: UInt16, nanoseconds: UInt64) {
        metrics?.responseWritten(apiKey: Int16(bitPattern: tag), nanoseconds: nanoseconds)
    }

    func connectionClosed() {
        if let client { metrics?.connectionClosed(client) }
        broker.logger.debug("\(info.peer?.description ?? "client") on listener \(listenerName): closed (\(session.principal))")
    }

    private var listenerName: String { broker.configuration.listeners[session.listener].name }

    /// Kafka's sasl.server.max.receive.size: before authentication a SASL listener takes
    /// frames of 512 KiB at most, so an unknown client cannot reserve large request memory.
    static let maximumUnauthenticatedFrameSize = 524_288

    var frameSizeLimit: Int? { session.isAuthenticated ? nil : Self.maximumUnauthenticatedFrameSize }

    func framingFailed(_ error: FramingError) {
        guard case .invalidFrameSize(let size) = error else { return }
        // A TLS record's header read as a size: 0x16 (handshake), then version 3.x.
        let looksLikeTLS = size >> 24 == 0x16 && (size >> 16) & 0xff == 0x03
        let hint = looksLikeTLS ? " (a TLS handshake on a plaintext listener: is the client set to SSL?)" : ""
        broker.logClientProblem(
            "malformed request",
            "\(info.peer?.description ?? "client"): invalid request size \(size) (socket.request.max.bytes \(broker.configuration.socketRequestMaxBytes))\(hint); closing the connection",
            level: .warning)
    }

    func transportFailed(_ error: SystemCallError) {
        guard error.errno == EPROTO else { return }  // resets are a client's business
        broker.logClientProblem("TLS failure", "\(info.peer?.description ?? "client"): \(error); closing the connection", level: .warning)
    }

    /// A client certificate names the principal through the listener's
    /// ssl.principal.mapping.rules (DEFAULT: its distinguished name); a name no rule maps is
    /// refused, as Kafka refuses it. SASL, when the listener uses it, names the principal again.
    func transportEstablished(peerSubject: String?) -> Bool {
        guard let peerSubject, !peerSubject.isEmpty else { return true }
        guard let name = principalMapping.principalName(for: peerSubject) else {
            broker.logClientProblem(
                "failed authentication",
                "\(clientHost): no ssl.principal.mapping.rules rule applies to \(peerSubject); closing the connection")
            return false
        }
        session.principal = "User:" + name
        return true
    }
}
