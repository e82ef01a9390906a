// PushTelemetry (key 72, KIP-714): a client's metrics, kept as the latest values of its
// instance for /metrics and the console; refused by Kafka's rules (ClientTelemetry.push).

import KafkaProtocol
import SystemCalls

struct PushTelemetryHandler: ApiHandler {
    typealias Request = PushTelemetryRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: PushTelemetryRequest, _ context: RequestContext<PushTelemetryRequest>) {
        let error = context.broker.telemetry.push(
            clientInstanceId: request.clientInstanceId, subscriptionId: request.subscriptionId, terminating: request.terminating,
            compressionType: request.compressionType, metrics: request.metrics, now: System.wallClockMilliseconds())
        context.send(PushTelemetryResponse(errorCode: error.rawValue))
    }
}
