// CreateAcls (key 30): every creation fails with SECURITY_DISABLED, Kafka's answer when no
// authorizer is configured (Swiftlet has none; see DescribeAcls).

import KafkaProtocol

struct CreateAclsHandler: ApiHandler {
    typealias Request = CreateAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func handle(_ request: CreateAclsRequest, _ context: RequestContext<CreateAclsRequest>) {
        context.send(
            CreateAclsResponse(
                results: request.creations.map { _ in
                    .init(errorCode: ErrorCode.securityDisabled.rawValue, errorMessage: noAuthorizerMessage)
                }))
    }
}
