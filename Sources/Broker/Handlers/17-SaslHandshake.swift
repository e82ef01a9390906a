// SaslHandshake (key 17): on a SASL listener, picks the mechanism of the exchange that
// follows, in SaslAuthenticate requests (v1) or as raw tokens (v0, old clients). An
// unserved mechanism gets the enabled ones and the connection closes, as Kafka does; on a
// listener without SASL, or a second time, ILLEGAL_SASL_STATE.

import KafkaProtocol
import Security

struct SaslHandshakeHandler: ApiHandler {
    typealias Request = SaslHandshakeRequest
    let advertised: ClosedRange<Int16> = 0...1

    func handle(_ request: SaslHandshakeRequest, _ context: RequestContext<SaslHandshakeRequest>) {
        let broker = context.broker
        let session = context.session
        // A first exchange, or a re-authentication (KIP-368) once a session can expire.
        let reauthenticating: Bool
        switch session.sasl {
        case .awaitingHandshake: reauthenticating = false
        case .done where session.sessionExpiry != nil: reauthenticating = true
        default: return context.send(SaslHandshakeResponse(errorCode: ErrorCode.illegalSaslState.rawValue, mechanisms: []))
        }
        guard !reauthenticating || context.version >= 1 else {
            // Raw v0 tokens cannot follow once requests have flowed.
            return context.send(SaslHandshakeResponse(errorCode: ErrorCode.illegalSaslState.rawValue, mechanisms: []))
        }
        let enabled = broker.configuration.sasl.mechanisms(for: broker.configuration.listeners[session.listener])
        guard enabled.contains(request.mechanism), let mechanism = SaslMechanismName(rawValue: request.mechanism) else {
            broker.logClientProblem(
                "unsupported SASL mechanism",
                "\(context.clientHost): \(request.mechanism) is not enabled (\(enabled.joined(separator: ", ")))")
            return context.sendAndClose(SaslHandshakeResponse(errorCode: ErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: enabled))
        }
        let exchange = broker.configuration.sasl.exchange(for: mechanism, scram: broker.scramCredentials)
        session.sasl =
            context.version == 0
            ? .awaitingRawToken(exchange, mechanism: mechanism.rawValue) : .awaitingAuthenticate(exchange, mechanism: mechanism.rawValue)
        context.send(SaslHandshakeResponse(errorCode: 0, mechanisms: enabled))
    }
}
