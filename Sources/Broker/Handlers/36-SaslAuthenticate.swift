// SaslAuthenticate (key 36): one token of the exchange SaslHandshake v1 started. A challenge
// goes back in auth_bytes; success sets the connection's principal; a failure answers
// SASL_AUTHENTICATION_FAILED with the mechanism's message and closes the connection after
// connection.failed.authentication.delay.ms, as Kafka does (a guesser gets no fast retries).

import KafkaProtocol
import Security
import SystemCalls

struct SaslAuthenticateHandler: ApiHandler {
    typealias Request = SaslAuthenticateRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: SaslAuthenticateRequest, _ context: RequestContext<SaslAuthenticateRequest>) {
        let session = context.session
        guard case .awaitingAuthenticate(var exchange, let mechanism) = session.sasl else {
            let message =
                session.isAuthenticated
                ? "SaslAuthenticate request received after successful authentication"
                : "Unexpected SaslAuthenticate request: no SaslHandshake v1 came before it"
            return context.send(
                SaslAuthenticateResponse(errorCode: ErrorCode.illegalSaslState.rawValue, errorMessage: message, authBytes: []))
        }
        let outcome = SaslAuthentication.step(
            &exchange, token: request.authBytes, session: session, mechanism: mechanism, broker: context.broker, client: context.clientHost)
        switch outcome {
        case .challenge(let bytes):
            session.sasl = .awaitingAuthenticate(exchange, mechanism: mechanism)
            context.send(SaslAuthenticateResponse(errorCode: 0, authBytes: bytes))
        case .success(let reply):
            // KIP-368: a session lasts connections.max.reauth.ms (0: for ever); clients
            // re-authenticate before it ends.
            let lifetime = context.broker.configuration.connectionsMaxReauthMilliseconds
            session.sessionExpiry = lifetime > 0 ? System.wallClockMilliseconds() + lifetime : nil
            context.send(SaslAuthenticateResponse(errorCode: 0, authBytes: reply, sessionLifetimeMs: lifetime))
        case .failure(let message):
            let response = SaslAuthenticateResponse(
                errorCode: ErrorCode.saslAuthenticationFailed.rawValue, errorMessage: message, authBytes: [])
            _ = context.eventLoop.schedule(afterMilliseconds: SaslAuthentication.failedAuthenticationDelayMilliseconds) {
                context.sendAndClose(response)
            }
        }
    }
}

/// A SASL step as both token carriers (SaslAuthenticate and v0's raw tokens) apply it.
enum SaslAuthentication {
    /// Kafka's connection.failed.authentication.delay.ms.
    static let failedAuthenticationDelayMilliseconds = 100

    enum Outcome {
        case challenge([UInt8])
        case success(reply: [UInt8])
        case failure(String)
    }

    /// Runs one token through `exchange`; on success the session gets its principal, on
    /// failure its SASL state is closed and the refusal logged (rate-limited).
    static func step(
        _ exchange: inout any SaslExchange, token: [UInt8], session: ConnectionSession, mechanism: String, broker: Broker,
        client: String
    ) -> Outcome {
        switch exchange.evaluate(token) {
        case .success(.challenge(let bytes)):
            return .challenge(bytes)
        case .success(.success(let reply, let user)):
            if session.authenticatedOnce && session.principal != "User:" + user {
                // Kafka's rule: a re-authentication cannot change who the connection is.
                session.sasl = .failed
                let message = "Cannot change principals during re-authentication from \(session.principal): User:\(user)"
                broker.logClientProblem("failed authentication", "\(client) (\(mechanism)): \(message)")
                return .failure(message)
            }
            session.sasl = .done
            session.principal = "User:" + user
            session.authenticatedOnce = true
            return .success(reply: reply)
        case .failure(let failure):
            session.sasl = .failed
            broker.logClientProblem("failed authentication", "\(client) (\(mechanism)): \(failure.message)")
            return .failure(failure.message)
        }
    }
}
