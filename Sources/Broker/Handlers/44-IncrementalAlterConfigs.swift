// IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on a topic's
// overrides; APPEND and SUBTRACT only apply to list configs (cleanup.policy).

import KafkaProtocol

struct IncrementalAlterConfigsHandler: ApiHandler {
    typealias Request = IncrementalAlterConfigsRequest
    let advertised: ClosedRange<Int16> = 0...1

    func handle(_ request: IncrementalAlterConfigsRequest, _ context: RequestContext<IncrementalAlterConfigsRequest>) {
        var response = IncrementalAlterConfigsResponse()
        for resource in request.resources {
            if let refusal = context.configsRefusal(.alterConfigs, resourceType: resource.resourceType, name: resource.resourceName) {
                response.responses.append(
                    .init(errorCode: refusal.rawValue, resourceType: resource.resourceType, resourceName: resource.resourceName))
                continue
            }
            var invalid: String?
            let (error, message) = context.broker.alterTopicConfigs(
                resourceType: resource.resourceType, name: resource.resourceName,
                validateOnly: request.validateOnly
            ) { current in
                var overrides = current
                for config in resource.configs {
                    let entry = TopicConfigCatalog.byName[config.name]
                    let present = overrides[config.name] ?? entry?.defaultValue ?? ""
                    let items = present.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
                    switch config.configOperation {
                    case 0: overrides[config.name] = config.value
                    case 1: overrides[config.name] = nil
                    case 2, 3:
                        guard entry?.type == .list else {
                            invalid = "\(config.name) is not a list config: APPEND and SUBTRACT do not apply"
                            continue
                        }
                        let given = (config.value ?? "").split(separator: ",").map { $0.trimmed }
                        let updated =
                            config.configOperation == 2
                            ? items + given.filter { !items.contains($0) }
                            : items.filter { !given.contains($0) }
                        overrides[config.name] = updated.joined(separator: ",")
                    default:
                        invalid = "unknown config operation \(config.configOperation)"
                    }
                }
                return overrides
            }
            let finalError = invalid != nil && error == .none ? ErrorCode.invalidConfig : error
            response.responses.append(
                .init(
                    errorCode: finalError.rawValue, errorMessage: invalid ?? message,
                    resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        context.send(response)
    }
}
