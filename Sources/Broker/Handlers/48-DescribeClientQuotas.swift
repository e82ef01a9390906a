// DescribeClientQuotas (key 48): the quota entities a filter matches, with their values.
// Components match an exact name (0), the default entity (1) or any entity of the type (2);
// `strict` leaves out entities with types the filter does not name. Needs DESCRIBE_CONFIGS
// on the cluster.

import KafkaProtocol

struct DescribeClientQuotasHandler: ApiHandler {
    typealias Request = DescribeClientQuotasRequest
    let advertised: ClosedRange<Int16> = 0...1

    func handle(_ request: DescribeClientQuotasRequest, _ context: RequestContext<DescribeClientQuotasRequest>) {
        guard context.authorized(.describeConfigs, .cluster, clusterResourceName) else {
            return context.send(DescribeClientQuotasResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue))
        }
        let types = request.components.map(\.entityType)
        guard Set(types).count == types.count else {
            return context.send(
                DescribeClientQuotasResponse(
                    errorCode: ErrorCode.invalidRequest.rawValue, errorMessage: "Duplicate entity type in filter"))
        }
        if let invalid = request.components.first(where: { ![0, 1, 2].contains($0.matchType) || ($0.matchType == 0 && $0.match == nil) }) {
            return context.send(
                DescribeClientQuotasResponse(
                    errorCode: ErrorCode.invalidRequest.rawValue,
                    errorMessage: "Invalid match type \(invalid.matchType) for \(invalid.entityType)"))
        }
        func matches(_ entity: QuotaEntity) -> Bool {
            for component in request.components {
                guard let name = entity.parts[component.entityType] else { return false }
                switch component.matchType {
                case 0: if name != component.match { return false }
                case 1: if name != nil { return false }
                default: break
                }
            }
            return !request.strict || Set(entity.parts.keys) == Set(types)
        }
        let entries = context.broker.quotas.all.filter { matches($0.key) }.sorted {
            "\($0.key.parts.sorted { $0.key < $1.key })" < "\($1.key.parts.sorted { $0.key < $1.key })"
        }
        context.send(
            DescribeClientQuotasResponse(
                errorCode: 0,
                entries: entries.map { entity, values in
                    .init(
                        entity: entity.parts.sorted { $0.key < $1.key }.map { .init(entityType: $0.key, entityName: $0.value) },
                        values: values.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) })
                }))
    }
}
