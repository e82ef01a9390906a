// One client connection as the broker sees it: frames in, decoded requests dispatched to
// their handlers; what Kafka cannot answer (unknown api, version, malformed header) closes
// the connection, except an ApiVersions version it does not know (KIP-511).

import KafkaProtocol
import KafkaWire
import Reactor

struct KafkaConnectionFactory: ConnectionHandlerFactory {
    let broker: Broker

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler {
        KafkaConnection(broker: broker, info: connection)
    }
}

final class KafkaConnection: ConnectionHandler {
    let broker: Broker
    let info: ConnectionInfo

    let clientHost: String

    init(broker: Broker, info: ConnectionInfo) {
        self.broker = broker
        self.info = info
        clientHost = "/" + (info.peer?.host ?? "unknown")
    }

    func received(frame: [UInt8], responder: Responder) {
        let request: DecodedRequest
        do {
            request = try RequestCodec.decode(frame: frame)
        } catch {
            if case .unsupportedVersion(let header, .apiVersions) = error {
                responder.respond(ApiVersionsHandler.unsupportedVersionResponse(header: header, registry: broker.handlers))
                return
            }
            broker.logClientProblem("malformed request", "\(info.peer?.description ?? "client"): \(error); closing the connection")
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
        handler.dispatch(
            request, from: RequestOrigin(broker: broker, responder: responder, eventLoop: info.eventLoop, clientHost: clientHost))
    }

    func connectionClosed() {}
}
