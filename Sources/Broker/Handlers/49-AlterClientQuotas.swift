// AlterClientQuotas (key 49): sets and removes quota values of entities (user, client-id,
// both, or ip; a null name is the default entity), each entry checked as Kafka checks it, the
// valid ones written together. Needs ALTER_CONFIGS on the cluster.

import KafkaProtocol

struct AlterClientQuotasHandler: ApiHandler {
    typealias Request = AlterClientQuotasRequest
    let advertised: ClosedRange<Int16> = 0...1

    func runsOnAdminThread(_ request: AlterClientQuotasRequest, _ context: RequestContext<AlterClientQuotasRequest>) -> Bool { true }

    func handle(_ request: AlterClientQuotasRequest, _ context: RequestContext<AlterClientQuotasRequest>) {
        func echo(_ entry: AlterClientQuotasRequest.EntryData) -> [AlterClientQuotasResponse.EntityData] {
            entry.entity.map { .init(entityType: $0.entityType, entityName: $0.entityName) }
        }
        let allowed = context.authorized(.alterConfigs, .cluster, clusterResourceName)
        var results: [AlterClientQuotasResponse.EntryData] = []
        var changes: [(QuotaEntity, [(key: String, value: Double?)])] = []
        for entry in request.entries {
            var parts: [String: String?] = [:]
            var duplicate = false
            for part in entry.entity {
                if parts[part.entityType] != nil { duplicate = true }
                parts[part.entityType] = part.entityName
            }
            let entity = QuotaEntity(parts: parts)
            let problem =
                duplicate
                ? "Duplicate entity type"
                : ClientQuotas.problem(entity: entity, keys: entry.ops.map(\.key), values: entry.ops.filter { !$0.remove }.map(\.value))
            if !allowed {
                results.append(.init(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue, entity: echo(entry)))
            } else if let problem {
                results.append(.init(errorCode: ErrorCode.invalidRequest.rawValue, errorMessage: problem, entity: echo(entry)))
            } else {
                results.append(.init(errorCode: 0, entity: echo(entry)))
                changes.append((entity, entry.ops.map { ($0.key, $0.remove ? nil : $0.value) }))
            }
        }
        if !request.validateOnly && !changes.isEmpty {
            do {
                try context.broker.quotas.alter(changes)
            } catch {
                for index in results.indices where results[index].errorCode == 0 {
                    results[index].errorCode = ErrorCode.unknownServerError.rawValue
                    results[index].errorMessage = "\(error)"
                }
            }
        }
        context.send(AlterClientQuotasResponse(entries: results))
    }
}
