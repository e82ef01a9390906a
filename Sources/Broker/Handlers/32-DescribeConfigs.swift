// DescribeConfigs (key 32): every topic config Kafka documents, with its value, source
// (topic override, broker setting or default), synonyms and type; and the broker's own
// settings. ConfigSource numbers are Kafka's: 1 topic, 4 static broker, 5 default.

import KafkaProtocol

enum ConfigSource: Int8 {
    case dynamicTopic = 1
    case staticBroker = 4
    case defaultConfig = 5
}

enum ConfigResourceType: Int8 {
    case topic = 2
    case broker = 4
}

struct DescribeConfigsHandler: ApiHandler {
    typealias Request = DescribeConfigsRequest
    let advertised: ClosedRange<Int16> = 1...4

    func handle(_ request: DescribeConfigsRequest, _ context: RequestContext<DescribeConfigsRequest>) {
        let broker = context.broker
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult(
                errorCode: 0, resourceType: resource.resourceType,
                resourceName: resource.resourceName)
            let wanted = resource.configurationKeys.map(Set.init)
            if let refusal = context.configsRefusal(.describeConfigs, resourceType: resource.resourceType, name: resource.resourceName) {
                result.errorCode = refusal.rawValue
                response.results.append(result)
                continue
            }
            switch ConfigResourceType(rawValue: resource.resourceType) {
            case .topic:
                if let topic = broker.topics.topic(named: resource.resourceName) {
                    result.configs = TopicConfigCatalog.entries.filter { wanted?.contains($0.name) ?? true }.map {
                        describe($0, override: topic.configs[$0.name], broker: broker, request: request, version: context.version)
                    }
                } else {
                    result.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                    result.errorMessage = "Topic \(resource.resourceName) does not exist."
                }
            case .broker:
                if resource.resourceName.isEmpty || resource.resourceName == String(broker.configuration.nodeId) {
                    result.configs = broker.configuration.describedSettings
                        .filter { wanted?.contains($0.name) ?? true }
                        .map { setting in
                            var config = DescribeConfigsResponse.DescribeConfigsResourceResult(
                                name: setting.name, value: setting.value, readOnly: true,
                                configSource: (setting.isDefault ? ConfigSource.defaultConfig : .staticBroker).rawValue, isSensitive: false)
                            if context.version >= 3 { config.configType = setting.type.rawValue }
                            if request.includeSynonyms {
                                config.synonyms = [.init(name: setting.name, value: setting.value, source: config.configSource)]
                            }
                            return config
                        }
                } else {
                    result.errorCode = ErrorCode.invalidRequest.rawValue
                    result.errorMessage = "Unexpected broker id \(resource.resourceName); this is broker \(broker.configuration.nodeId)."
                }
            case nil:
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = "Unsupported resource type \(resource.resourceType)."
            }
            response.results.append(result)
        }
        context.send(response)
    }

    private func describe(
        _ entry: TopicConfigEntry, override: String?, broker: Broker, request: DescribeConfigsRequest,
        version: Int16
    ) -> DescribeConfigsResponse.DescribeConfigsResourceResult {
        let brokerValue = entry.brokerSynonym.flatMap { broker.configuration.setting(named: $0) }
        let value = override ?? brokerValue?.value ?? entry.defaultValue
        let brokerSource: ConfigSource = brokerValue.map { $0.isDefault ? .defaultConfig : .staticBroker } ?? .defaultConfig
        var config = DescribeConfigsResponse.DescribeConfigsResourceResult(
            name: entry.name, value: value, readOnly: false,
            configSource: (override != nil ? ConfigSource.dynamicTopic : brokerSource).rawValue, isSensitive: false)
        if version >= 3 { config.configType = entry.type.rawValue }
        if request.includeSynonyms {
            if let override { config.synonyms.append(.init(name: entry.name, value: override, source: ConfigSource.dynamicTopic.rawValue)) }
            if let synonym = entry.brokerSynonym {
                config.synonyms.append(.init(name: synonym, value: brokerValue?.value ?? entry.defaultValue, source: brokerSource.rawValue))
            }
        }
        return config
    }
}
