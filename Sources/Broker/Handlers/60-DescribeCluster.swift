// DescribeCluster (key 60): this broker, the cluster id and the controller (this node).

import KafkaProtocol

struct DescribeClusterHandler: ApiHandler {
    typealias Request = DescribeClusterRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: DescribeClusterRequest, _ context: RequestContext<DescribeClusterRequest>) {
        let broker = context.broker
        let cluster = broker.clusterView(listener: context.listener)
        var response = DescribeClusterResponse(
            errorCode: 0, endpointType: request.endpointType, clusterId: broker.clusterId,
            controllerId: cluster.controllerId,
            brokers: cluster.brokers.map { .init(brokerId: $0.nodeId, host: $0.host, port: $0.port) })
        // Brokers answer for broker endpoints (1) only; controllers (2) are asked directly.
        if request.endpointType != 1 {
            response = DescribeClusterResponse(
                errorCode: ErrorCode.unsupportedEndpointType.rawValue,
                errorMessage: "The broker does not describe controller endpoints.",
                endpointType: request.endpointType, clusterId: broker.clusterId)
        }
        if request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = context.authorizedOperations(.cluster, clusterResourceName)
        }
        context.send(response)
    }
}
