// CreateAcls (key 30): adds ACL bindings, each checked as Kafka checks them, for a principal
// allowed to ALTER the cluster; all of a request's valid bindings in one write. Without an
// authorizer, SECURITY_DISABLED.

import KafkaProtocol

struct CreateAclsHandler: ApiHandler {
    typealias Request = CreateAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func runsOnAdminThread(_ request: CreateAclsRequest, _ context: RequestContext<CreateAclsRequest>) -> Bool { true }

    func handle(_ request: CreateAclsRequest, _ context: RequestContext<CreateAclsRequest>) {
        func all(_ code: ErrorCode, _ message: String?) -> CreateAclsResponse {
            CreateAclsResponse(results: request.creations.map { _ in .init(errorCode: code.rawValue, errorMessage: message) })
        }
        guard let authorizer = context.broker.authorizer else { return context.send(all(.securityDisabled, noAuthorizerMessage)) }
        guard context.authorized(.alter, .cluster, clusterResourceName) else { return context.send(all(.clusterAuthorizationFailed, nil)) }
        let bindings = request.creations.map {
            AclBinding(
                resourceType: $0.resourceType, resourceName: $0.resourceName, patternType: $0.resourcePatternType,
                principal: $0.principal, host: $0.host, operation: $0.operation, permission: $0.permissionType)
        }
        var results = bindings.map { binding -> CreateAclsResponse.AclCreationResult in
            AclValidation.problem(with: binding).map { .init(errorCode: ErrorCode.invalidRequest.rawValue, errorMessage: $0) }
                ?? .init(errorCode: 0)
        }
        do {
            try authorizer.create(zip(bindings, results).filter { $0.1.errorCode == 0 }.map(\.0))
        } catch {
            for index in results.indices where results[index].errorCode == 0 {
                results[index] = .init(errorCode: ErrorCode.unknownServerError.rawValue, errorMessage: "\(error)")
            }
        }
        context.send(CreateAclsResponse(results: results))
    }
}
