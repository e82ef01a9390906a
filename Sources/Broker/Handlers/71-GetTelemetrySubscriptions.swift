// GetTelemetrySubscriptions (key 71, KIP-714): gives the client its instance id and asks it
// to push its standard metrics (org.apache.kafka.*) every telemetry.push.interval.ms, as
// cumulative values, compressed as Kafka accepts them.

import KafkaProtocol
import SystemCalls

struct GetTelemetrySubscriptionsHandler: ApiHandler {
    typealias Request = GetTelemetrySubscriptionsRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: GetTelemetrySubscriptionsRequest, _ context: RequestContext<GetTelemetrySubscriptionsRequest>) {
        let telemetry = context.broker.telemetry
        let (id, subscriptionId, error) = telemetry.subscribe(
            clientInstanceId: request.clientInstanceId, clientId: context.clientId, softwareName: context.session.clientSoftwareName,
            softwareVersion: context.session.clientSoftwareVersion, now: System.wallClockMilliseconds())
        // Kafka echoes the id the client sent too (the schema's "0 when the client had one"
        // is not what clients expect: librdkafka keeps whatever comes back).
        context.send(
            GetTelemetrySubscriptionsResponse(
                errorCode: error.rawValue, clientInstanceId: id, subscriptionId: subscriptionId,
                acceptedCompressionTypes: ClientTelemetry.acceptedCompressionTypes, pushIntervalMs: telemetry.pushIntervalMilliseconds,
                telemetryMaxBytes: telemetry.maximumBytes, deltaTemporality: false, requestedMetrics: ClientTelemetry.requestedMetrics))
    }
}
