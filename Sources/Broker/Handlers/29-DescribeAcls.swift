// DescribeAcls (key 29): the ACLs a filter matches, grouped by resource, for a principal
// allowed to DESCRIBE the cluster. Without an authorizer, SECURITY_DISABLED, as Kafka answers
// (rather than leaving admin clients with "unsupported by the broker").

import KafkaProtocol

struct DescribeAclsHandler: ApiHandler {
    typealias Request = DescribeAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func handle(_ request: DescribeAclsRequest, _ context: RequestContext<DescribeAclsRequest>) {
        guard let authorizer = context.broker.authorizer else {
            return context.send(
                DescribeAclsResponse(
                    errorCode: ErrorCode.securityDisabled.rawValue, errorMessage: "No Authorizer is configured on the broker"))
        }
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(DescribeAclsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue))
        }
        let filter = AclFilter(
            resourceType: request.resourceTypeFilter, resourceName: request.resourceNameFilter, patternType: request.patternTypeFilter,
            principal: request.principalFilter, host: request.hostFilter, operation: request.operation,
            permission: request.permissionType)
        if let problem = AclValidation.problem(with: filter) {
            return context.send(DescribeAclsResponse(errorCode: ErrorCode.invalidRequest.rawValue, errorMessage: problem))
        }
        var resources: [AclResourceKey: [AclBinding]] = [:]
        for binding in authorizer.describe(filter) {
            resources[AclResourceKey(binding), default: []].append(binding)
        }
        context.send(
            DescribeAclsResponse(
                errorCode: 0,
                resources: resources.keys.sorted().map { key in
                    .init(
                        resourceType: key.type, resourceName: key.name, patternType: key.pattern,
                        acls: resources[key]!.sorted { ($0.principal, $0.operation) < ($1.principal, $1.operation) }.map {
                            .init(principal: $0.principal, host: $0.host, operation: $0.operation, permissionType: $0.permission)
                        })
                }))
    }
}

/// Kafka's wording for ACL changes on a broker without an authorizer.
let noAuthorizerMessage = "No Authorizer is configured."
/// The one cluster resource's name, as Kafka names it in ACLs.
let clusterResourceName = "kafka-cluster"

struct AclResourceKey: Hashable, Comparable {
    let type: Int8
    let name: String
    let pattern: Int8
    init(_ binding: AclBinding) {
        type = binding.resourceType
        name = binding.resourceName
        pattern = binding.patternType
    }
    static func < (lhs: Self, rhs: Self) -> Bool { (lhs.type, lhs.name, lhs.pattern) < (rhs.type, rhs.name, rhs.pattern) }
}

/// Kafka's checks on ACL bindings and filters, with its messages.
enum AclValidation {
    static func problem(with binding: AclBinding) -> String? {
        guard let type = ResourceType(rawValue: binding.resourceType), type != .any else { return "Invalid resource type" }
        guard binding.patternType == PatternType.literal.rawValue || binding.patternType == PatternType.prefixed.rawValue else {
            return "Invalid pattern type: must be LITERAL or PREFIXED"
        }
        guard let operation = AclOperation(rawValue: binding.operation), operation != .any else { return "Invalid operation" }
        guard binding.permission == AclPermission.allow.rawValue || binding.permission == AclPermission.deny.rawValue else {
            return "Invalid permission type"
        }
        guard let colon = binding.principal.firstIndex(of: ":"), colon != binding.principal.startIndex,
            binding.principal.index(after: colon) != binding.principal.endIndex
        else {
            return
                "Could not parse principal from `\(binding.principal)` (no colon is present separating the principal type from the principal name)"
        }
        if type == .cluster && binding.resourceName != clusterResourceName {
            return "The only valid name for the CLUSTER resource is kafka-cluster"
        }
        if binding.resourceName.isEmpty { return "Resource name must not be empty" }
        return nil
    }

    static func problem(with filter: AclFilter) -> String? {
        guard ResourceType(rawValue: filter.resourceType) != nil else { return "Invalid resource type" }
        guard PatternType(rawValue: filter.patternType) != nil else { return "Invalid pattern type" }
        guard AclOperation(rawValue: filter.operation) != nil else { return "Invalid operation" }
        guard AclPermission(rawValue: filter.permission) != nil else { return "Invalid permission type" }
        return nil
    }
}
