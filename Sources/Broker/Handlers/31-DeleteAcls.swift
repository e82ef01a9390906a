// DeleteAcls (key 31): removes the bindings each filter matches and names them, for a
// principal allowed to ALTER the cluster. Without an authorizer, SECURITY_DISABLED.

import KafkaProtocol

struct DeleteAclsHandler: ApiHandler {
    typealias Request = DeleteAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func runsOnAdminThread(_ request: DeleteAclsRequest, _ context: RequestContext<DeleteAclsRequest>) -> Bool { true }

    func handle(_ request: DeleteAclsRequest, _ context: RequestContext<DeleteAclsRequest>) {
        func all(_ code: ErrorCode, _ message: String?) -> DeleteAclsResponse {
            DeleteAclsResponse(filterResults: request.filters.map { _ in .init(errorCode: code.rawValue, errorMessage: message) })
        }
        guard let authorizer = context.broker.authorizer else { return context.send(all(.securityDisabled, noAuthorizerMessage)) }
        guard context.authorized(.alter, .cluster, clusterResourceName) else { return context.send(all(.clusterAuthorizationFailed, nil)) }
        let filters = request.filters.map {
            AclFilter(
                resourceType: $0.resourceTypeFilter, resourceName: $0.resourceNameFilter, patternType: $0.patternTypeFilter,
                principal: $0.principalFilter, host: $0.hostFilter, operation: $0.operation, permission: $0.permissionType)
        }
        if let problem = filters.lazy.compactMap(AclValidation.problem(with:)).first {
            return context.send(all(.invalidRequest, problem))
        }
        do {
            let matched = try authorizer.delete(filters)
            context.send(
                DeleteAclsResponse(
                    filterResults: matched.map { bindings in
                        .init(
                            errorCode: 0,
                            matchingAcls: bindings.map {
                                .init(
                                    errorCode: 0, resourceType: $0.resourceType, resourceName: $0.resourceName, patternType: $0.patternType,
                                    principal: $0.principal, host: $0.host, operation: $0.operation, permissionType: $0.permission)
                            })
                    }))
        } catch {
            context.send(all(.unknownServerError, "\(error)"))
        }
    }
}
