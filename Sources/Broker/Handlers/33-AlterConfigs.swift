// AlterConfigs (key 33): replaces a topic's whole set of overrides (the legacy form, which
// IncrementalAlterConfigs superseded). Broker settings are fixed at start-up here.

import KafkaProtocol

struct AlterConfigsHandler: ApiHandler {
    typealias Request = AlterConfigsRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: AlterConfigsRequest, _ context: RequestContext<AlterConfigsRequest>) {
        var response = AlterConfigsResponse()
        for resource in request.resources {
            if let refusal = context.configsRefusal(.alterConfigs, resourceType: resource.resourceType, name: resource.resourceName) {
                response.responses.append(
                    .init(errorCode: refusal.rawValue, resourceType: resource.resourceType, resourceName: resource.resourceName))
                continue
            }
            var overrides: [String: String] = [:]
            for config in resource.configs { if let value = config.value { overrides[config.name] = value } }
            let (error, message) = context.broker.alterTopicConfigs(
                resourceType: resource.resourceType, name: resource.resourceName,
                validateOnly: request.validateOnly
            ) { _ in overrides }
            response.responses.append(
                .init(
                    errorCode: error.rawValue, errorMessage: message,
                    resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        context.send(response)
    }
}
